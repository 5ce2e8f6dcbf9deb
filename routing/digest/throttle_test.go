package digest

import (
	"fmt"
	"net/netip"
	"testing"
	"time"
)

func TestThrottle(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("192.0.2.2")
	type step struct {
		src         netip.Addr
		user        string
		at          time.Duration
		fail        bool   // record a failure (else just check)
		wantStarted string // "" none, "user" or "source": the block this failure started
		wantBlocked bool   // Blocked(src, user)
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"below the limit", []step{
			{a, "1001", 0, true, "", false}, {a, "1001", time.Second, true, "", false}, {a, "1001", 2 * time.Second, false, "", false},
		}},
		{"third failure blocks the pair only", []step{
			{a, "1001", 0, true, "", false}, {a, "1001", time.Second, true, "", false}, {a, "1001", 2 * time.Second, true, "user", true},
			{a, "1001", 3 * time.Second, false, "", true},
			{a, "1002", 3 * time.Second, false, "", false}, // another user behind the same address
			{b, "1001", 3 * time.Second, false, "", false}, // the same user elsewhere
		}},
		{"block is logged once", []step{
			{a, "1001", 0, true, "", false}, {a, "1001", 0, true, "", false}, {a, "1001", 0, true, "user", true}, {a, "1001", time.Second, true, "", true},
		}},
		{"window slides", []step{
			{a, "1001", 0, true, "", false}, {a, "1001", 50 * time.Second, true, "", false}, {a, "1001", 70 * time.Second, true, "", false},
			{a, "1001", 71 * time.Second, true, "user", true},
		}},
		{"block ends", []step{
			{a, "1001", 0, true, "", false}, {a, "1001", 0, true, "", false}, {a, "1001", 0, true, "user", true},
			{a, "1001", 4*time.Minute + 59*time.Second, false, "", true}, {a, "1001", 5 * time.Minute, false, "", false},
		}},
		{"spraying reaches the source ceiling", []step{
			{a, "2001", 0, true, "", false}, {a, "2002", 0, true, "", false}, {a, "2003", 0, true, "", false},
			{a, "2004", 0, true, "", false}, {a, "2005", 0, true, "source", true},
			{a, "1001", time.Second, false, "", true}, // everyone from a is refused
			{b, "1001", time.Second, false, "", false},
		}},
		{"failures while a pair is blocked do not feed the ceiling", []step{
			{a, "1001", 0, true, "", false}, {a, "1001", 0, true, "", false}, {a, "1001", 0, true, "user", true},
			{a, "1001", 0, true, "", true}, {a, "1001", 0, true, "", true}, {a, "1001", 0, true, "", true},
			{a, "1002", 0, true, "", false}, // 4 counted for a: below 5
			{a, "1002", 0, false, "", false},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			th := NewThrottle(ThrottleOptions{Failures: 3, SourceFailures: 5, Window: time.Minute, Block: 5 * time.Minute})
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				if s.fail {
					blk, started := th.Fail(s.src, s.user, now)
					got := ""
					if started {
						got = "user"
						if blk.Username == "" {
							got = "source"
						}
						if blk.Source != s.src || !blk.Until.Equal(now.Add(5*time.Minute)) {
							t.Fatalf("step %d: started block %+v", i, blk)
						}
					}
					if got != s.wantStarted {
						t.Fatalf("step %d: fail started %q, want %q", i, got, s.wantStarted)
					}
				}
				if _, got := th.Blocked(s.src, s.user, now); got != s.wantBlocked {
					t.Fatalf("step %d: blocked = %v, want %v", i, got, s.wantBlocked)
				}
			}
		})
	}
}

// TestThrottleDefaults: ten fast failures of one user block that user
// only; the thirtieth failure from the address blocks the address.
func TestThrottleDefaults(t *testing.T) {
	src := netip.MustParseAddr("192.0.2.1")
	th := NewThrottle(ThrottleOptions{})
	if o := th.Options(); o.Failures != 10 || o.SourceFailures != 30 || o.Window != time.Minute || o.Block != 5*time.Minute {
		t.Fatalf("defaults %+v", o)
	}
	for i := range 10 {
		_, started := th.Fail(src, "1001", t0)
		if started != (i == 9) {
			t.Fatalf("failure %d: started = %v", i+1, started)
		}
	}
	if _, ok := th.Blocked(src, "1001", t0); !ok {
		t.Error("1001 not blocked after 10 failures")
	}
	if _, ok := th.Blocked(src, "1002", t0); ok {
		t.Error("1002 blocked by 1001's failures")
	}
	n := 10
	for u := 0; n < 29; u++ {
		for range 9 {
			if n == 29 {
				break
			}
			if _, started := th.Fail(src, fmt.Sprintf("2%03d", u), t0); started {
				t.Fatalf("block started at failure %d", n+1)
			}
			n++
		}
	}
	blk, started := th.Fail(src, "3000", t0)
	if !started || blk.Username != "" || blk.Failures != 30 {
		t.Fatalf("30th failure: %+v started %v, want a source block after 30", blk, started)
	}
}

func TestThrottleBlocksAndUnblock(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.1")
	b := netip.MustParseAddr("2001:db8::1")
	th := NewThrottle(ThrottleOptions{Failures: 2, SourceFailures: 4, Window: time.Minute, Block: time.Minute})
	th.Fail(a, "1001", t0)
	th.Fail(a, "1001", t0) // a/1001 blocked
	th.Fail(b, "1001", t0)
	th.Fail(b, "1001", t0) // b/1001 blocked
	th.Fail(b, "1002", t0)
	th.Fail(b, "1003", t0) // b's fourth: b blocked
	th.Fail(a, "1002", t0) // counted, no block
	got := th.Blocks(t0.Add(time.Second))
	want := []Block{
		{Source: a, Username: "1001", Failures: 2, Until: t0.Add(time.Minute)},
		{Source: b, Username: "", Failures: 4, Until: t0.Add(time.Minute)},
		{Source: b, Username: "1001", Failures: 2, Until: t0.Add(time.Minute)},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Blocks =\n %v\nwant\n %v", got, want)
	}
	if blk, started := th.Fail(a, "1001", t0.Add(time.Second)); started || blk.Username != "1001" || blk.Failures != 2 {
		t.Errorf("a failure racing past Blocked: %+v started %v; want the block in force, not started", blk, started)
	}
	if blk, started := th.Fail(b, "1009", t0.Add(time.Second)); started || blk.Source != b || blk.Username != "" {
		t.Errorf("a failure from a blocked source: %+v started %v", blk, started)
	}
	if n := th.UnblockUsername("1001", t0.Add(time.Second)); n != 2 {
		t.Errorf("UnblockUsername lifted %d, want 2", n)
	}
	if _, ok := th.Blocked(a, "1001", t0.Add(time.Second)); ok {
		t.Error("a/1001 still blocked")
	}
	if _, ok := th.Blocked(b, "1009", t0.Add(time.Second)); !ok {
		t.Error("b's source block was lifted by a username")
	}
	if _, ok := th.Blocked(netip.MustParseAddr("2001:db8::1%eth0"), "1009", t0.Add(time.Second)); !ok {
		t.Error("a zone made another source of b")
	}
	if n := th.UnblockSource(b, t0.Add(time.Second)); n != 1 {
		t.Errorf("UnblockSource lifted %d, want 1", n)
	}
	if got := th.Blocks(t0.Add(time.Second)); len(got) != 0 {
		t.Errorf("after unblocking: %v", got)
	}
	// Failures were forgotten with the blocks: a fresh start.
	if _, started := th.Fail(a, "1001", t0.Add(2*time.Second)); started {
		t.Error("one failure after unblock started a block")
	}
	if got := th.Blocks(t0.Add(2 * time.Minute)); len(got) != 0 {
		t.Errorf("expired blocks listed: %v", got)
	}
}

func TestThrottleBounded(t *testing.T) {
	th := NewThrottle(ThrottleOptions{Failures: 2, SourceFailures: 100, Window: time.Minute, Block: time.Minute})
	blocked := netip.MustParseAddr("198.51.100.1")
	th.Fail(blocked, "1001", t0)
	th.Fail(blocked, "1001", t0)
	for i := range maxThrottleEntries + 100 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		th.Fail(ip, "1001", t0.Add(time.Second))
	}
	// One source spraying long, distinct usernames.
	for i := range maxThrottleEntries {
		th.Fail(netip.MustParseAddr("198.51.100.2"), fmt.Sprintf("%0200d", i), t0.Add(time.Second))
	}
	th.mu.Lock()
	n := len(th.entries)
	long := 0
	for k := range th.entries {
		long = max(long, len(k.user))
	}
	th.mu.Unlock()
	if n > maxThrottleEntries {
		t.Errorf("%d entries tracked, max %d", n, maxThrottleEntries)
	}
	if long > maxUsernameKey {
		t.Errorf("a %d-byte username kept as a key", long)
	}
	if _, ok := th.Blocked(blocked, "1001", t0.Add(2*time.Second)); !ok {
		t.Error("a block was evicted by the flood")
	}
	th.Sweep(t0.Add(10 * time.Minute))
	th.mu.Lock()
	n = len(th.entries)
	th.mu.Unlock()
	if n != 0 {
		t.Errorf("after sweep %d entries remain", n)
	}
}
