package routing

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRateLimiter(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	type step struct {
		src  netip.Addr
		at   time.Duration
		want bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{name: "burst then refused", steps: []step{{a, 0, true}, {a, 0, true}, {a, 0, true}, {a, 0, false}}},
		{name: "refills at the rate", steps: []step{{a, 0, true}, {a, 0, true}, {a, 0, true}, {a, 0, false},
			{a, 499 * time.Millisecond, false}, {a, 500 * time.Millisecond, true}, {a, 500 * time.Millisecond, false}}},
		{name: "sources are independent", steps: []step{{a, 0, true}, {a, 0, true}, {a, 0, true}, {a, 0, false}, {b, 0, true}}},
		{name: "never above the burst", steps: []step{{a, 0, true}, {a, time.Hour, true}, {a, time.Hour, true},
			{a, time.Hour, true}, {a, time.Hour, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRateLimiter(SubscribeLimit{Rate: 2, Burst: 3})
			for i, st := range tt.steps {
				if got := r.allow(st.src, t0.Add(st.at)); got != st.want {
					t.Fatalf("step %d: allow = %v, want %v", i, got, st.want)
				}
			}
		})
	}
}

func TestRateLimiterSweep(t *testing.T) {
	r := newRateLimiter(SubscribeLimit{Rate: 1, Burst: 2})
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	r.allow(netip.MustParseAddr("192.0.2.1"), t0)
	r.sweep(t0)
	if len(r.buckets) != 1 {
		t.Fatalf("a bucket in use was forgotten")
	}
	r.sweep(t0.Add(time.Second))
	if len(r.buckets) != 0 {
		t.Fatalf("a full bucket was kept")
	}
}

// TestSubscribeFlood: SUBSCRIBEs beyond the per-source burst get 503 with
// Retry-After before any authentication work.
func TestSubscribeFlood(t *testing.T) {
	s := testServer(t, func(o *Options) { o.Subscribe = SubscribeLimit{Rate: 0.001, Burst: 3} })
	raw := []byte(strings.ReplaceAll(strings.TrimLeft(subscribeText, "\n"), "\n", "\r\n"))
	want := []string{"407 Proxy Authentication Required", "407 Proxy Authentication Required",
		"407 Proxy Authentication Required", "503 Too Many Subscriptions", "503 Too Many Subscriptions"}
	for i, w := range want {
		res := exchange(t, s, raw)
		if got := status(res); got != w {
			t.Errorf("SUBSCRIBE %d answered %q, want %q", i+1, got, w)
		}
		if ra := res.GetHeader("Retry-After"); (res.StatusCode == 503) != (ra != nil) {
			t.Errorf("SUBSCRIBE %d: Retry-After %v with %d", i+1, ra, res.StatusCode)
		}
	}
}
