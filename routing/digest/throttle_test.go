package routing

import (
	"net/netip"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	type step struct {
		src         netip.Addr
		at          time.Duration
		fail        bool // record a failure (else just check)
		wantStarted bool
		wantBlocked bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"below the limit", []step{
			{a, 0, true, false, false}, {a, time.Second, true, false, false}, {a, 2 * time.Second, false, false, false},
		}},
		{"third failure blocks", []step{
			{a, 0, true, false, false}, {a, time.Second, true, false, false}, {a, 2 * time.Second, true, true, true},
			{a, 3 * time.Second, false, false, true}, {b, 3 * time.Second, false, false, false},
		}},
		{"block is logged once", []step{
			{a, 0, true, false, false}, {a, 0, true, false, false}, {a, 0, true, true, true}, {a, time.Second, true, false, true},
		}},
		{"window slides", []step{
			{a, 0, true, false, false}, {a, 50 * time.Second, true, false, false}, {a, 70 * time.Second, true, false, false},
			{a, 71 * time.Second, true, true, true},
		}},
		{"block ends", []step{
			{a, 0, true, false, false}, {a, 0, true, false, false}, {a, 0, true, true, true},
			{a, 4*time.Minute + 59*time.Second, false, false, true}, {a, 5 * time.Minute, false, false, false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := newThrottle(ThrottleOptions{Failures: 3, Window: time.Minute, Block: 5 * time.Minute})
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				if s.fail {
					if got := th.fail(s.src, now); got != s.wantStarted {
						t.Fatalf("step %d: fail started block = %v, want %v", i, got, s.wantStarted)
					}
				}
				if got := th.blocked(s.src, now); got != s.wantBlocked {
					t.Fatalf("step %d: blocked = %v, want %v", i, got, s.wantBlocked)
				}
			}
		})
	}
}

func TestThrottleBounded(t *testing.T) {
	th := newThrottle(ThrottleOptions{Failures: 2, Window: time.Minute, Block: time.Minute})
	blocked := netip.MustParseAddr("198.51.100.1")
	th.fail(blocked, t0)
	th.fail(blocked, t0)
	for i := range maxThrottleSources + 100 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		th.fail(ip, t0.Add(time.Second))
	}
	th.mu.Lock()
	n := len(th.sources)
	th.mu.Unlock()
	if n > maxThrottleSources {
		t.Errorf("%d sources tracked, max %d", n, maxThrottleSources)
	}
	if !th.blocked(blocked, t0.Add(2*time.Second)) {
		t.Error("a block was evicted by the flood")
	}
	if got := th.blockedCount(t0.Add(2 * time.Second)); got != 1 {
		t.Errorf("blockedCount = %d, want 1", got)
	}
	th.sweep(t0.Add(10 * time.Minute))
	th.mu.Lock()
	n = len(th.sources)
	th.mu.Unlock()
	if n != 0 {
		t.Errorf("after sweep %d sources remain", n)
	}
}
