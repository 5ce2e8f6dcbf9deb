package discovery

import (
	"net"
	"sync"
	"time"
)

// limiter is a token bucket per source: burst datagrams at once, then one
// every interval. It holds at most max sources; when full it forgets the
// sources whose buckets have refilled, and refuses new ones if none have,
// so a flood of forged sources costs bounded memory.
type limiter struct {
	mu       sync.Mutex
	burst    float64
	interval time.Duration
	max      int
	buckets  map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newLimiter(burst int, interval time.Duration, max int) *limiter {
	return &limiter{burst: float64(burst), interval: interval, max: max, buckets: map[string]*bucket{}}
}

// allow takes a token for key at now, reporting whether one was left.
func (l *limiter) allow(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.buckets[key]
	if !ok {
		if len(l.buckets) >= l.max && !l.prune(now) {
			return false
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	if now.After(b.last) {
		b.tokens = min(l.burst, b.tokens+float64(now.Sub(b.last))/float64(l.interval))
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// prune drops refilled buckets and reports whether there is room now.
func (l *limiter) prune(now time.Time) bool {
	for k, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.last))/float64(l.interval) >= l.burst {
			delete(l.buckets, k)
		}
	}
	return len(l.buckets) < l.max
}

// txCache remembers recent SUBSCRIBE transactions for ttl (RFC 3261 Timer J
// is 64·T1 = 32 s for non-INVITE server transactions): a retransmission is
// answered with the same 200 OK and causes no second NOTIFY or store write.
type txCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	max     int
	entries map[string]*txEntry
}

type txEntry struct {
	expires  time.Time
	response []byte       // the 200 OK once sent; nil for unanswered requests
	dst      *net.UDPAddr // where the response went
}

func newTxCache(ttl time.Duration, max int) *txCache {
	return &txCache{ttl: ttl, max: max, entries: map[string]*txEntry{}}
}

// seen reports whether key is a known live transaction; if not it records
// it and returns false. When the cache is full of live entries the new key
// is not stored (and still reported as new): the limiter bounds how often
// that can happen per source.
func (c *txCache) seen(key string, now time.Time) (txEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok && now.Before(e.expires) {
		return *e, true
	}
	if len(c.entries) >= c.max {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, k)
			}
		}
	}
	if len(c.entries) < c.max {
		c.entries[key] = &txEntry{expires: now.Add(c.ttl)}
	}
	return txEntry{}, false
}

// answered stores the response sent for key, for retransmissions.
func (c *txCache) answered(key string, response []byte, dst *net.UDPAddr) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[key]; ok {
		e.response, e.dst = response, dst
	}
}
