package fork

import (
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A branch INVITE transaction is released the moment its final response
// has been handled (clienttx.go); what RFC 3261 and RFC 6026 want it to go
// on doing afterwards is kept here as a compact record, keyed by the
// transaction key that a retransmission of that final response carries:
//
//   - after a non-2xx final over UDP (Completed state, Timer D): the ACK as
//     it went on the wire, to send again, at once, for each retransmission
//     of the final response;
//   - after the 2xx we relayed upstream (Accepted state, Timer M = 64·T1):
//     where the caller is, so that the branch's 2xx retransmissions reach it;
//   - after a 2xx we could not relay (a second answer, or one after the
//     caller left): the ACK we sent for it, to send again.
//
// Records are never removed one by one and have no timer or goroutine: a
// store is a ring of generations, each a map filled during one span; the
// oldest is emptied when the ring turns. A record lives at least window
// and at most window plus one span.

// retainGens is the number of generations of a store: a record outlives
// its window by at most window/(retainGens-1).
const retainGens = 4

// retainMax bounds the records of one generation; past it new records are
// not kept (the retransmission they would answer is then dropped, which
// costs the phone one more retransmission, never a call).
const retainMax = 1 << 16

// packetWriter is the UDP listener connection an ACK was sent from.
type packetWriter interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
}

// record is what one released transaction left behind; exactly one of
// ack, ack2xx and up is set.
type record struct {
	ack    []byte         // the non-2xx ACK as sent (UDP): written again as is
	to     netip.AddrPort // where ack went
	w      packetWriter   // and from which socket
	ack2xx *sip.Request   // the ACK of a 2xx that did not go upstream
	up     *upstreamTo    // the 2xx went upstream: relay its retransmissions
}

// upstreamTo is where the answering branch's 2xx retransmissions go: to
// the caller, the way the first 2xx went (call.upstream).
type upstreamTo struct {
	from      *sip.FromHeader // the caller's own From (a branch may rewrite it)
	dest      string          // the caller's source address
	transport string
}

// store is a ring of record generations (see above).
type store struct {
	mu    sync.Mutex
	span  time.Duration
	gens  [retainGens]map[string]record
	cur   int       // generation records are added to
	start time.Time // when cur began
	now   func() time.Time
}

func newStore(window time.Duration) *store {
	if window <= 0 {
		window = time.Second
	}
	s := &store{span: window / (retainGens - 1), now: time.Now}
	if s.span <= 0 {
		s.span = 1
	}
	return s
}

// turn advances the ring to now, emptying the generations it passes. The
// caller holds mu.
func (s *store) turn(now time.Time) {
	if s.start.IsZero() {
		s.start = now
		return
	}
	steps := int(now.Sub(s.start) / s.span)
	switch {
	case steps <= 0:
		return
	case steps >= retainGens:
		for _, g := range s.gens {
			clear(g)
		}
		s.start = now
		return
	}
	for range steps {
		s.cur = (s.cur + 1) % retainGens
		clear(s.gens[s.cur]) // keeps the map's buckets for the next span
	}
	s.start = s.start.Add(time.Duration(steps) * s.span)
}

// put keeps rec under key; false when the generation is full.
func (s *store) put(key string, rec record) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.turn(s.now())
	g := s.gens[s.cur]
	if g == nil {
		g = make(map[string]record)
		s.gens[s.cur] = g
	}
	if len(g) >= retainMax {
		return false
	}
	g[key] = rec
	return true
}

// get returns the record under key (a transaction key in a buffer:
// txKey), newest first.
func (s *store) get(key []byte) (record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.turn(s.now())
	for k := range retainGens {
		if rec, ok := s.gens[(s.cur-k+retainGens)%retainGens][string(key)]; ok {
			return rec, true
		}
	}
	return record{}, false
}

// len counts the records held (for tests and metrics).
func (s *store) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.turn(s.now())
	n := 0
	for _, g := range s.gens {
		n += len(g)
	}
	return n
}
