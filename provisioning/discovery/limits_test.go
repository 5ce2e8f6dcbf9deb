package discovery

import (
	"net"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	type step struct {
		key  string
		at   time.Duration
		want bool
	}
	tests := []struct {
		name  string
		burst int
		max   int
		steps []step
	}{
		{"burst then refused", 2, 10, []step{{"a", 0, true}, {"a", 0, true}, {"a", 0, false}}},
		{"refills one per interval", 1, 10, []step{{"a", 0, true}, {"a", 500 * time.Millisecond, false}, {"a", time.Second, true}}},
		{"sources are independent", 1, 10, []step{{"a", 0, true}, {"b", 0, true}, {"a", 0, false}}},
		{"full table refuses new sources", 1, 2, []step{{"a", 0, true}, {"b", 0, true}, {"c", 0, false}}},
		{"refilled sources are forgotten when full", 1, 2, []step{{"a", 0, true}, {"b", 0, true}, {"c", 2 * time.Second, true}}},
		{"clock going back takes no tokens", 1, 10, []step{{"a", time.Second, true}, {"a", 0, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			l := newLimiter(tc.burst, time.Second, tc.max)
			for i, s := range tc.steps {
				if got := l.allow(s.key, t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d (%s at %v) = %v, want %v", i, s.key, s.at, got, s.want)
				}
			}
		})
	}
}

func TestTxCache(t *testing.T) {
	t0 := time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)
	c := newTxCache(32*time.Second, 2)
	dst := &net.UDPAddr{IP: net.ParseIP("10.0.0.7"), Port: 5060}
	if _, dup := c.seen("a", t0); dup {
		t.Fatal("first sight reported as duplicate")
	}
	if e, dup := c.seen("a", t0.Add(time.Second)); !dup || e.response != nil {
		t.Fatalf("retransmission before the answer: dup=%v response=%q", dup, e.response)
	}
	c.answered("a", []byte("SIP/2.0 200 OK"), dst)
	if e, dup := c.seen("a", t0.Add(2*time.Second)); !dup || string(e.response) != "SIP/2.0 200 OK" || e.dst != dst {
		t.Fatalf("retransmission after the answer: dup=%v entry=%+v", dup, e)
	}
	if _, dup := c.seen("a", t0.Add(33*time.Second)); dup {
		t.Fatal("expired transaction still remembered")
	}
	c.seen("b", t0.Add(33*time.Second))
	if _, dup := c.seen("c", t0.Add(33*time.Second)); dup {
		t.Fatal("new key on a full cache reported as duplicate")
	}
	if _, dup := c.seen("c", t0.Add(34*time.Second)); dup {
		t.Fatal("full cache of live entries stored a new key")
	}
	c.answered("missing", []byte("x"), dst) // must not panic or insert
	if _, dup := c.seen("missing", t0.Add(80*time.Second)); dup {
		t.Fatal("answered inserted a key")
	}
}
