package routing

import (
	"net/netip"
	"sync"
	"time"
)

// SubscribeLimit bounds SUBSCRIBEs per source IP with a token bucket:
// Burst at once, then Rate per second. A phone with a page of BLF keys
// subscribes to all of them at boot, each twice (the challenge), so the
// burst is generous; a flood beyond it gets 503 with Retry-After. Zero
// values take the defaults 10/s and 120.
type SubscribeLimit struct {
	Rate  float64
	Burst int
}

func (o SubscribeLimit) withDefaults() SubscribeLimit {
	if o.Rate <= 0 {
		o.Rate = 10
	}
	if o.Burst <= 0 {
		o.Burst = 120
	}
	return o
}

// maxLimitSources bounds the limiter's table; full buckets are forgotten
// first (they hold no information).
const maxLimitSources = 4096

// rateLimiter is a token bucket per source IP.
type rateLimiter struct {
	opts SubscribeLimit

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(opts SubscribeLimit) *rateLimiter {
	return &rateLimiter{opts: opts.withDefaults(), buckets: map[netip.Addr]*bucket{}}
}

// allow takes one token for src and reports whether there was one.
func (r *rateLimiter) allow(src netip.Addr, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.buckets[src]
	if !ok {
		if len(r.buckets) >= maxLimitSources {
			r.sweepLocked(now)
		}
		if len(r.buckets) >= maxLimitSources {
			return false // under a flood from many sources, newcomers wait
		}
		b = &bucket{tokens: float64(r.opts.Burst), last: now}
		r.buckets[src] = b
	}
	r.refill(b, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (r *rateLimiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(r.opts.Burst), b.tokens+d.Seconds()*r.opts.Rate)
		b.last = now
	}
}

// sweep forgets sources whose bucket is full again.
func (r *rateLimiter) sweep(now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sweepLocked(now)
}

func (r *rateLimiter) sweepLocked(now time.Time) {
	for src, b := range r.buckets {
		r.refill(b, now)
		if b.tokens >= float64(r.opts.Burst) {
			delete(r.buckets, src)
		}
	}
}
