package digest

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"net/netip"
	"sync"
	"time"
)

// Nonces are stateless: 8 bytes of issue time (unix nanoseconds), 8 random
// bytes and a 16-byte HMAC of both and of the source address the challenge
// went to, under a per-process key. Any instance can check one without
// remembering it; a restart simply makes old nonces stale. Because the
// source is in the HMAC, a nonce is good only from the address it was sent
// to: someone who forges that address cannot have seen one, so what they
// send can be told apart from a phone's real attempt (and is not counted as
// a failure).
const (
	nonceRandLen = 8
	nonceMACLen  = 16
	nonceRawLen  = 8 + nonceRandLen + nonceMACLen
	nonceEncLen  = (nonceRawLen*8 + 5) / 6 // unpadded base64
)

// nonceCheck is the verdict on a nonce presented in credentials.
type nonceCheck int

const (
	nonceFresh nonceCheck = iota
	nonceStale            // not ours, not for this source, expired or replayed: re-challenge with stale=true
)

// nonces issues and verifies nonces and tracks nonce-count (nc) use per nonce
// so a captured Authorization cannot be replayed.
type nonces struct {
	key  []byte
	ttl  time.Duration
	max  int       // tracked nonces at most
	macs sync.Pool // hmac-sha256 under key, reset before each use

	// The records are pointer-free, so the collector never scans them, and
	// compact (~90 B a nonce with the map's spare room and the ring, against
	// ~145 B keyed by the nonce's string): a storm of registrations leaves
	// up to max of them.
	mu        sync.Mutex
	seen      map[nonceID]ncWindow
	order     []nonceID // ring of the nonces in seen from head on, first use first: eviction order
	head      int
	watermark int64 // unix ns: nonces issued at or before this may have been evicted: stale
}

// nonceID identifies a nonce of ours: its issue time (big-endian unix ns,
// so the record needs no other copy of it) and random bytes. The MAC adds
// nothing to tell two of ours apart.
type nonceID [8 + nonceRandLen]byte

func (id *nonceID) issued() int64 { return int64(binary.BigEndian.Uint64(id[:8])) }

// ncWindow remembers the highest nc used with one nonce plus a 64-bit bitmap
// of the ones below it (IPsec anti-replay style), so requests that overtake
// each other are still accepted once.
type ncWindow struct {
	max  uint32
	bits uint64 // bit i set: nc max-i was used
}

func newNonces(ttl time.Duration, max int) (*nonces, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	n := &nonces{key: key, ttl: ttl, max: max, seen: make(map[nonceID]ncWindow)}
	// Keying an HMAC hashes the key into its pads: a pooled instance keeps
	// them, and Reset brings it back to that keyed state.
	n.macs.New = func() any { return &macState{h: hmac.New(sha256.New, key)} }
	return n, nil
}

// issue returns a new nonce for src stamped with now.
func (n *nonces) issue(src netip.Addr, now time.Time) string {
	var raw [nonceRawLen]byte
	binary.BigEndian.PutUint64(raw[:8], uint64(now.UnixNano()))
	_, _ = rand.Read(raw[8 : 8+nonceRandLen]) // crypto/rand never fails on Linux (Go ≥1.24 panics instead)
	mac := n.mac(raw[:8+nonceRandLen], src)
	copy(raw[8+nonceRandLen:], mac[:nonceMACLen])
	return base64.RawURLEncoding.EncodeToString(raw[:])
}

// mac is the HMAC of b and src; the nonce carries its first nonceMACLen
// bytes.
func (n *nonces) mac(b []byte, src netip.Addr) [sha256.Size]byte {
	m := n.macs.Get().(*macState)
	m.h.Reset()
	// Through the pooled buffer: what is written through the interface
	// escapes, and the caller's nonce bytes and the address would each
	// move to the heap.
	a := src.Unmap().As16() // the zero Addr hashes as ::, which no request comes from
	in := append(append(m.in[:0], b...), a[:]...)
	m.h.Write(in)
	m.h.Sum(m.sum[:0])
	sum := m.sum
	n.macs.Put(m)
	return sum
}

// macState is a pooled keyed HMAC and the buffers its input and sum go
// through.
type macState struct {
	h   hash.Hash
	in  [8 + nonceRandLen + 16]byte
	sum [sha256.Size]byte
}

// issuedAt reports when a nonce of ours was issued for src; ok is false for
// anything that is not (garbage, forged, issued to another address, or
// signed by a previous process).
func (n *nonces) issuedAt(nonce string, src netip.Addr) (time.Time, bool) {
	raw, ok := decodeNonce(nonce)
	if !ok {
		return time.Time{}, false
	}
	mac := n.mac(raw[:8+nonceRandLen], src)
	if !hmac.Equal(raw[8+nonceRandLen:nonceRawLen], mac[:nonceMACLen]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))), true
}

// decodeNonce is nonce's bytes, decoded on the stack: a nonce of ours has
// exactly this length.
func decodeNonce(nonce string) (raw [nonceRawLen]byte, ok bool) {
	var enc [nonceEncLen]byte
	var buf [nonceRawLen + 2]byte // room for what a malformed tail could decode to
	if len(nonce) != nonceEncLen {
		return raw, false
	}
	copy(enc[:], nonce)
	if m, err := base64.RawURLEncoding.Decode(buf[:], enc[:]); err != nil || m != nonceRawLen {
		return raw, false
	}
	copy(raw[:], buf[:nonceRawLen])
	return raw, true
}

// valid reports whether nonce is one we issued to src that has not expired
// (whether its nc values were used already is use's business).
func (n *nonces) valid(nonce string, src netip.Addr, now time.Time) bool {
	_, ok := n.unexpired(nonce, src, now)
	return ok
}

func (n *nonces) unexpired(nonce string, src netip.Addr, now time.Time) (time.Time, bool) {
	issued, ok := n.issuedAt(nonce, src)
	if !ok || now.Sub(issued) > n.ttl || issued.After(now.Add(time.Minute)) {
		return time.Time{}, false
	}
	return issued, true
}

// use checks a nonce and records the use of nc with it. nc is 0 when the
// client did not use qop: such a nonce is then good for one request only.
func (n *nonces) use(nonce string, src netip.Addr, nc uint32, now time.Time) nonceCheck {
	issued, ok := n.unexpired(nonce, src, now)
	if !ok {
		return nonceStale
	}
	return n.record(nonce, issued, nc, now)
}

// record notes the use of nc with a nonce already checked by unexpired.
func (n *nonces) record(nonce string, issued time.Time, nc uint32, now time.Time) nonceCheck {
	raw, ok := decodeNonce(nonce)
	if !ok {
		return nonceStale // unexpired let it through: cannot happen
	}
	id := nonceID(raw[:len(nonceID{})])
	n.mu.Lock()
	defer n.mu.Unlock()
	w, ok := n.seen[id]
	if !ok {
		if issued.UnixNano() <= n.watermark {
			return nonceStale // its record may have been evicted
		}
		n.makeRoomLocked(now)
		n.pushLocked(id)
	}
	verdict := w.accept(nc)
	n.seen[id] = w
	return verdict
}

// accept marks nc used; a repeat, or nc 0 (no qop) on a nonce already used,
// is stale.
func (w *ncWindow) accept(nc uint32) nonceCheck {
	switch {
	case nc == 0:
		if w.max != 0 || w.bits != 0 {
			return nonceStale
		}
		w.bits = 1 // used once without qop
		return nonceFresh
	case nc > w.max:
		shift := nc - w.max
		if shift >= 64 {
			w.bits = 0
		} else {
			w.bits <<= shift
		}
		w.bits |= 1
		w.max = nc
		return nonceFresh
	default:
		off := w.max - nc
		if off >= 64 || w.bits&(1<<off) != 0 {
			return nonceStale
		}
		w.bits |= 1 << off
		return nonceFresh
	}
}

// makeRoomLocked forgets records from the oldest first use on, while they
// have expired or the table is full, raising the watermark so a forgotten
// nonce cannot be replayed afterwards. Amortised O(1). Once the table is
// empty a large ring and the map (Go maps never shrink) are given back.
func (n *nonces) makeRoomLocked(now time.Time) {
	at := now.UnixNano()
	for len(n.seen) > 0 {
		id := &n.order[n.head]
		issued := id.issued()
		if len(n.seen) < n.max && at-issued <= int64(n.ttl) {
			return
		}
		delete(n.seen, *id)
		n.head = (n.head + 1) % len(n.order)
		n.watermark = max(n.watermark, issued)
	}
	if len(n.order) > 1024 {
		n.order, n.head, n.seen = nil, 0, make(map[nonceID]ncWindow)
	}
}

// pushLocked appends id to the eviction ring, which doubles when full.
func (n *nonces) pushLocked(id nonceID) {
	if len(n.seen) == len(n.order) {
		ring := make([]nonceID, min(max(2*len(n.order), 64), max(n.max, 1)))
		for i := range len(n.seen) {
			ring[i] = n.order[(n.head+i)%len(n.order)]
		}
		n.order, n.head = ring, 0
	}
	n.order[(n.head+len(n.seen))%len(n.order)] = id
}

// tracked is the number of nonce records held (for tests and stats).
func (n *nonces) tracked() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.seen)
}
