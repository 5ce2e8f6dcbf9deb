package presence

import (
	"sync"
	"time"

	"deskgate/daemon/store"
)

// DefaultFeedBuffer is the subscriber buffer used when Subscribe is given
// none.
const DefaultFeedBuffer = 64

// Change is one presence change, or a Resync marker.
//
// A Change carries the user's complete new state, not a delta, so applying
// one late or twice is harmless and only the newest per user matters.
type Change struct {
	Seq    uint64         // 1, 2, 3, ... per Service, in the order changes were made
	User   string         // "" for a Resync
	Old    store.Presence // the state before
	New    store.Presence // the complete state after
	By     string         // ByFeatureCode, ByControl, ...
	Time   time.Time
	Resync bool // changes up to Seq were dropped for this subscriber: re-read All
}

// feed fans changes out to subscribers without ever blocking the writer.
//
// Delivery is non-blocking into each subscriber's bounded buffer. When a
// subscriber's buffer is full, its backlog is discarded and replaced by a
// single Change{Resync: true}: the subscriber then re-reads every state
// with Service.All (which already includes the change that overflowed) and
// carries on with the changes that follow. A slow subscriber therefore
// never stalls a feature code or the control API, and never ends up with a
// stale state: it loses intermediate states only, never the latest one.
type feed struct {
	mu   sync.Mutex
	seq  uint64
	next int
	subs map[int]chan Change
}

func (f *feed) publish(c Change) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	c.Seq = f.seq
	for _, ch := range f.subs {
		select {
		case ch <- c:
		default:
			resync(ch, c.Seq)
		}
	}
}

// resync empties a full subscriber buffer and leaves one Resync marker.
// Only publish sends on ch, under f.mu, so after draining there is room.
func resync(ch chan Change, seq uint64) {
	for drained := false; !drained; {
		select {
		case <-ch:
		default:
			drained = true
		}
	}
	ch <- Change{Seq: seq, Resync: true}
}

// Subscribe returns a channel receiving every change made from now on (by
// feature code or control request), and a function that ends the
// subscription and closes the channel (safe to call more than once).
// buffer <= 0 means DefaultFeedBuffer. See Change and the feed type for
// what happens when the subscriber falls behind.
func (s *Service) Subscribe(buffer int) (<-chan Change, func()) {
	if buffer <= 0 {
		buffer = DefaultFeedBuffer
	}
	ch := make(chan Change, buffer)
	f := &s.feed
	f.mu.Lock()
	if f.subs == nil {
		f.subs = make(map[int]chan Change)
	}
	id := f.next
	f.next++
	f.subs[id] = ch
	f.mu.Unlock()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			delete(f.subs, id)
			close(ch)
			f.mu.Unlock()
		})
	}
}
