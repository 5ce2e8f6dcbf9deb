package routing

import (
	"net/netip"
	"sync"
	"time"
)

// ThrottleOptions bound failed digest authentication per source IP: Failures
// within Window block the source for Block (every request that needs
// authentication gets 403 meanwhile). Zero values take the defaults
// 10 / 1 minute / 5 minutes.
type ThrottleOptions struct {
	Failures int
	Window   time.Duration
	Block    time.Duration
}

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	if o.Failures <= 0 {
		o.Failures = 10
	}
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Block <= 0 {
		o.Block = 5 * time.Minute
	}
	return o
}

// maxThrottleSources bounds the table: a flood from many addresses evicts
// the sources closest to being forgotten first.
const maxThrottleSources = 4096

// throttle is a sliding-window failure counter per source IP.
type throttle struct {
	opts ThrottleOptions

	mu      sync.Mutex
	sources map[netip.Addr]*failures
}

type failures struct {
	times        []time.Time // failure times inside the window, oldest first, at most opts.Failures
	blockedUntil time.Time
}

func newThrottle(opts ThrottleOptions) *throttle {
	return &throttle{opts: opts.withDefaults(), sources: make(map[netip.Addr]*failures)}
}

// blocked reports whether src is currently refused.
func (t *throttle) blocked(src netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.sources[src]
	return ok && now.Before(f.blockedUntil)
}

// fail records one failed authentication from src and reports whether this
// failure started a block (so the caller logs once per block).
func (t *throttle) fail(src netip.Addr, now time.Time) (startedBlock bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.sources[src]
	if !ok {
		t.makeRoomLocked(now)
		f = &failures{}
		t.sources[src] = f
	}
	if now.Before(f.blockedUntil) {
		return false
	}
	f.times = append(pruneBefore(f.times, now.Add(-t.opts.Window)), now)
	if len(f.times) < t.opts.Failures {
		return false
	}
	f.times = nil
	f.blockedUntil = now.Add(t.opts.Block)
	return true
}

// blockedCount is the number of sources blocked at now.
func (t *throttle) blockedCount(now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, f := range t.sources {
		if now.Before(f.blockedUntil) {
			n++
		}
	}
	return n
}

// sweep forgets sources with nothing left to remember.
func (t *throttle) sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(now)
}

func (t *throttle) sweepLocked(now time.Time) {
	for src, f := range t.sources {
		f.times = pruneBefore(f.times, now.Add(-t.opts.Window))
		if len(f.times) == 0 && !now.Before(f.blockedUntil) {
			delete(t.sources, src)
		}
	}
}

func (t *throttle) makeRoomLocked(now time.Time) {
	if len(t.sources) < maxThrottleSources {
		return
	}
	t.sweepLocked(now)
	for len(t.sources) >= maxThrottleSources {
		var victim netip.Addr
		var vf *failures
		for src, f := range t.sources {
			if now.Before(f.blockedUntil) {
				continue // blocks are kept: evicting them would unblock an attacker
			}
			if vf == nil || f.times[len(f.times)-1].Before(vf.times[len(vf.times)-1]) {
				victim, vf = src, f
			}
		}
		if vf == nil {
			return // everything is blocked: grow rather than forget a block
		}
		delete(t.sources, victim)
	}
}

// pruneBefore drops times before cut, reusing the slice.
func pruneBefore(ts []time.Time, cut time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	return append(ts[:0], ts[i:]...)
}
