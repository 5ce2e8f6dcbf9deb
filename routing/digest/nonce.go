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

	mu        sync.Mutex
	seen      map[string]ncWindow // by value: one allocation less per nonce
	order     []string            // nonces in seen from index head on, first use first: eviction order
	head      int
	watermark time.Time // nonces issued at or before this may have been evicted: stale
}

// ncWindow remembers the highest nc used with one nonce plus a 64-bit bitmap
// of the ones below it (IPsec anti-replay style), so requests that overtake
// each other are still accepted once.
type ncWindow struct {
	issued time.Time
	max    uint32
	bits   uint64 // bit i set: nc max-i was used
}

func newNonces(ttl time.Duration, max int) (*nonces, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("nonce key: %w", err)
	}
	n := &nonces{key: key, ttl: ttl, max: max, seen: make(map[string]ncWindow)}
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
	m.h.Write(b)
	a := src.Unmap().As16() // the zero Addr hashes as ::, which no request comes from
	m.h.Write(a[:])
	m.h.Sum(m.sum[:0]) // into the pooled buffer: a local one would escape through the interface
	sum := m.sum
	n.macs.Put(m)
	return sum
}

// macState is a pooled keyed HMAC and the buffer its sum goes to.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// issuedAt reports when a nonce of ours was issued for src; ok is false for
// anything that is not (garbage, forged, issued to another address, or
// signed by a previous process).
func (n *nonces) issuedAt(nonce string, src netip.Addr) (time.Time, bool) {
	// Decoded on the stack: a nonce of ours has exactly this length.
	var enc [nonceEncLen]byte
	var raw [nonceRawLen + 2]byte // room for what a malformed tail could decode to
	if len(nonce) != nonceEncLen {
		return time.Time{}, false
	}
	copy(enc[:], nonce)
	if m, err := base64.RawURLEncoding.Decode(raw[:], enc[:]); err != nil || m != nonceRawLen {
		return time.Time{}, false
	}
	mac := n.mac(raw[:8+nonceRandLen], src)
	if !hmac.Equal(raw[8+nonceRandLen:nonceRawLen], mac[:nonceMACLen]) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(raw[:8]))), true
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
	n.mu.Lock()
	defer n.mu.Unlock()
	w, ok := n.seen[nonce]
	if !ok {
		if !issued.After(n.watermark) {
			return nonceStale // its record may have been evicted
		}
		n.makeRoomLocked(now)
		w = ncWindow{issued: issued}
		n.order = append(n.order, nonce)
	}
	verdict := w.accept(nc)
	n.seen[nonce] = w
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
// nonce cannot be replayed afterwards. Amortised O(1).
func (n *nonces) makeRoomLocked(now time.Time) {
	for n.head < len(n.order) {
		w := n.seen[n.order[n.head]]
		if len(n.seen) < n.max && now.Sub(w.issued) <= n.ttl {
			break
		}
		delete(n.seen, n.order[n.head])
		n.order[n.head] = ""
		n.head++
		if w.issued.After(n.watermark) {
			n.watermark = w.issued
		}
	}
	if n.head > 1024 && n.head > len(n.order)/2 {
		n.order = append(n.order[:0], n.order[n.head:]...)
		n.head = 0
	}
}

// tracked is the number of nonce records held (for tests and stats).
func (n *nonces) tracked() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.seen)
}
