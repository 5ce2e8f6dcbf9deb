package digest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"net/netip"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestNonceUse(t *testing.T) {
	type use struct {
		nc   uint32
		at   time.Duration // after issue
		want nonceCheck
	}
	tests := []struct {
		name string
		uses []use
	}{
		{"fresh qop", []use{{1, 0, nonceFresh}}},
		{"counts up", []use{{1, 0, nonceFresh}, {2, time.Second, nonceFresh}, {3, 2 * time.Second, nonceFresh}}},
		{"replayed nc", []use{{1, 0, nonceFresh}, {1, time.Second, nonceStale}}},
		{"out of order once", []use{{2, 0, nonceFresh}, {1, 0, nonceFresh}, {1, 0, nonceStale}, {2, 0, nonceStale}}},
		{"window edge", []use{{100, 0, nonceFresh}, {40, 0, nonceFresh}, {37, 0, nonceFresh}, {37, 0, nonceStale}, {36, 0, nonceStale}, {20, 0, nonceStale}}},
		{"jump beyond the window", []use{{1, 0, nonceFresh}, {200, 0, nonceFresh}, {1, 0, nonceStale}, {199, 0, nonceFresh}}},
		{"no qop once", []use{{0, 0, nonceFresh}, {0, time.Second, nonceStale}}},
		{"no qop after qop", []use{{1, 0, nonceFresh}, {0, 0, nonceStale}}},
		{"expired", []use{{1, 6 * time.Minute, nonceStale}}},
		{"just in time", []use{{1, 5 * time.Minute, nonceFresh}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, err := newNonces(5*time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			nonce := n.issue(phoneIP, t0)
			for i, u := range tc.uses {
				if got := n.use(nonce, phoneIP, u.nc, t0.Add(u.at)); got != u.want {
					t.Fatalf("use %d (nc=%d at +%v) = %v, want %v", i, u.nc, u.at, got, u.want)
				}
			}
		})
	}
}

func TestNonceForeign(t *testing.T) {
	a, _ := newNonces(5*time.Minute, 100)
	b, _ := newNonces(5*time.Minute, 100)
	nonce := a.issue(phoneIP, t0)
	tampered := []byte(nonce)
	tampered[3] ^= 1
	tests := []struct {
		name  string
		nonce string
	}{
		{"another process", nonce},
		{"tampered", string(tampered)},
		{"garbage", "not-a-nonce"},
		{"empty", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := b.use(tc.nonce, phoneIP, 1, t0); got != nonceStale {
				t.Errorf("use = %v, want stale", got)
			}
		})
	}
	for _, other := range []string{"192.0.2.11", "::ffff:192.0.2.11", "2001:db8::10"} {
		if got := a.use(nonce, netip.MustParseAddr(other), 1, t0); got != nonceStale {
			t.Errorf("own nonce from %s = %v, want stale", other, got)
		}
	}
	if got := a.use(nonce, netip.MustParseAddr("::ffff:192.0.2.10"), 1, t0); got != nonceFresh {
		t.Errorf("own nonce from the v4-mapped address = %v, want fresh", got)
	}
	if got := a.use(nonce, phoneIP, 2, t0); got != nonceFresh {
		t.Errorf("own nonce = %v, want fresh", got)
	}
}

// TestNonceEviction: a full table forgets the oldest record, and that
// nonce can then no longer be replayed (watermark).
func TestNonceEviction(t *testing.T) {
	n, _ := newNonces(5*time.Minute, 3)
	var ns []string
	for i := range 4 {
		ns = append(ns, n.issue(phoneIP, t0.Add(time.Duration(i)*time.Second)))
	}
	for i, nonce := range ns {
		if got := n.use(nonce, phoneIP, 1, t0.Add(10*time.Second)); got != nonceFresh {
			t.Fatalf("first use of nonce %d = %v", i, got)
		}
	}
	if got := n.tracked(); got > 3 {
		t.Fatalf("tracked %d nonces, max 3", got)
	}
	if got := n.use(ns[0], phoneIP, 1, t0.Add(11*time.Second)); got != nonceStale {
		t.Errorf("replay of evicted nonce = %v, want stale", got)
	}
	if got := n.use(ns[3], phoneIP, 2, t0.Add(11*time.Second)); got != nonceFresh {
		t.Errorf("next nc on a kept nonce = %v, want fresh", got)
	}
}

func BenchmarkNonceIssueUse(b *testing.B) {
	n, _ := newNonces(5*time.Minute, 16384)
	for i := 0; b.Loop(); i++ {
		nonce := n.issue(phoneIP, t0)
		n.use(nonce, phoneIP, 1, t0)
	}
}

// TestNonceMACPooled: the pooled, reset HMAC gives what a fresh one under
// the key gives, however often it is reused.
func TestNonceMACPooled(t *testing.T) {
	n, err := newNonces(5*time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		msg := []byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
		src := netip.AddrFrom4([4]byte{192, 0, 2, byte(i)})
		m := hmac.New(sha256.New, n.key)
		m.Write(msg)
		a := src.As16()
		m.Write(a[:])
		want := m.Sum(nil)
		if got := n.mac(msg, src); !bytes.Equal(got[:], want) {
			t.Fatalf("use %d: mac %x, want %x", i, got, want)
		}
	}
}

// BenchmarkNonceIssueCheck is one challenge's nonce issued and checked.
func BenchmarkNonceIssueCheck(b *testing.B) {
	n, err := newNonces(5*time.Minute, 16384)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := n.issuedAt(n.issue(phoneIP, t0), phoneIP); !ok {
			b.Fatal("own nonce refused")
		}
	}
}

// TestNonceRecordMemory: a registration storm leaves a record per nonce
// (up to the table's bound), so a record must stay small: 144 B each when
// they were keyed by the nonce's string, 92 B as fixed-size, pointer-free
// keys.
func TestNonceRecordMemory(t *testing.T) {
	const count = 16384
	n, err := newNonces(5*time.Minute, count)
	if err != nil {
		t.Fatal(err)
	}
	ns := make([]string, count)
	for i := range ns {
		ns[i] = n.issue(phoneIP, t0)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, nonce := range ns {
		if n.use(nonce, phoneIP, 1, t0) != nonceFresh {
			t.Fatal("fresh nonce refused")
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(ns)
	perRecord := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / count
	t.Logf("%d records: %.0f B each", n.tracked(), perRecord)
	if n.tracked() != count {
		t.Fatalf("%d records", n.tracked())
	}
	if perRecord > 110 {
		t.Errorf("%.0f B per record, want ≤ 110", perRecord)
	}
	runtime.KeepAlive(n)
}

// TestNonceRing: eviction keeps first-use order across the ring's growth
// and wrap-around, expiry and the bound both evict, and an emptied table
// gives its memory back.
func TestNonceRing(t *testing.T) {
	const bound = 3000
	n, _ := newNonces(10*time.Second, bound)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	var live []string // used, oldest first
	for s := range 40 {
		for range 300 {
			nonce := n.issue(phoneIP, at(s))
			if got := n.use(nonce, phoneIP, 1, at(s)); got != nonceFresh {
				t.Fatalf("second %d: fresh nonce %v", s, got)
			}
			live = append(live, nonce)
		}
		// Nonces issued 10 s ago or less are kept (10 × 300 = the bound);
		// the bound evicts the ones of 11 s ago (expiry would keep them
		// for 10 s) in first-use order.
		if got := n.tracked(); got != min(len(live), bound) {
			t.Fatalf("second %d: %d records", s, got)
		}
		if len(live) > bound {
			old := live[len(live)-bound-1]
			if got := n.use(old, phoneIP, 100, at(s)); got != nonceStale {
				t.Fatalf("second %d: evicted nonce %v", s, got)
			}
		}
		kept := live[max(0, len(live)-bound/2)]
		if got := n.use(kept, phoneIP, uint32(s+2), at(s)); got != nonceFresh {
			t.Fatalf("second %d: kept nonce's next nc %v", s, got)
		}
	}
	last := n.issue(phoneIP, at(100))
	if got := n.use(last, phoneIP, 1, at(100)); got != nonceFresh {
		t.Fatalf("after expiry: %v", got)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.seen) != 1 || len(n.order) != 64 {
		t.Errorf("after expiry: %d records, ring of %d", len(n.seen), len(n.order))
	}
}
