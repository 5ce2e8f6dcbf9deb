package digest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"net/netip"
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
