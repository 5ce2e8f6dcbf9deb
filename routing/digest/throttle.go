package digest

import (
	"cmp"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// ThrottleOptions bound failed digest authentication. Failures for one
// username from one source within Window block that pair for Block: that
// user's requests from that address get 403, every other user behind the
// same address keeps working. SourceFailures within Window from one source,
// whatever the usernames, block the whole source (the ceiling against
// user-name spraying). Zero values take the defaults 10 / 30 / 1 minute /
// 5 minutes (docs/decisions.md says why).
type ThrottleOptions struct {
	Failures       int
	SourceFailures int
	Window         time.Duration
	Block          time.Duration
}

func (o ThrottleOptions) withDefaults() ThrottleOptions {
	if o.Failures <= 0 {
		o.Failures = 10
	}
	if o.SourceFailures <= 0 {
		o.SourceFailures = 30
	}
	if o.Window <= 0 {
		o.Window = time.Minute
	}
	if o.Block <= 0 {
		o.Block = 5 * time.Minute
	}
	return o
}

// Block is one refusal in force: Username "" blocks the whole source.
type Block struct {
	Source   netip.Addr
	Username string // digest username as sent; "" = every user from Source
	Failures int    // failed attempts that started the block
	Until    time.Time
}

// maxThrottleEntries bounds the table (source and source+username entries
// together): a flood from many addresses evicts the entries closest to
// being forgotten first, never a block in force.
const maxThrottleEntries = 4096

// maxUsernameKey bounds the bytes of a username kept as a key; extensions
// are far shorter, so only an attacker's names are cut (and then share one
// entry).
const maxUsernameKey = 64

type throttleKey struct {
	src  netip.Addr
	user string // "" = the source's total
}

// Throttle is a sliding-window failure counter per (source, username) and
// per source.
type Throttle struct {
	opts ThrottleOptions

	mu      sync.Mutex
	entries map[throttleKey]*failures
}

type failures struct {
	times        []time.Time // failure times inside the window, oldest first, at most the limit
	blockedUntil time.Time
	blockedAfter int // failures that started the current block
}

// NewThrottle returns an empty throttle.
func NewThrottle(opts ThrottleOptions) *Throttle {
	return &Throttle{opts: opts.withDefaults(), entries: make(map[throttleKey]*failures)}
}

// Options are the throttle's limits, defaults filled in.
func (t *Throttle) Options() ThrottleOptions { return t.opts }

// srcKey is the address without zone or v4-in-v6 mapping: one source
// whatever form it arrives in.
func srcKey(src netip.Addr) netip.Addr { return src.WithZone("").Unmap() }

func userKey(username string) string {
	if len(username) > maxUsernameKey {
		return username[:maxUsernameKey]
	}
	return username
}

// Blocked returns the block refusing username's requests from src, if any:
// a block of the whole source first, else one of this username.
func (t *Throttle) Blocked(src netip.Addr, username string, now time.Time) (Block, bool) {
	src = srcKey(src)
	t.mu.Lock()
	defer t.mu.Unlock()
	if b, ok := t.blockLocked(throttleKey{src: src}, now); ok {
		return b, true
	}
	if username == "" {
		return Block{}, false
	}
	return t.blockLocked(throttleKey{src: src, user: userKey(username)}, now)
}

func (t *Throttle) blockLocked(k throttleKey, now time.Time) (Block, bool) {
	f, ok := t.entries[k]
	if !ok || !now.Before(f.blockedUntil) {
		return Block{}, false
	}
	return Block{Source: k.src, Username: k.user, Failures: f.blockedAfter, Until: f.blockedUntil}, true
}

// Fail records one failed authentication of username from src. It returns
// the block in force after it and whether this failure started it (so the
// caller logs once per block): the source's when the ceiling is reached,
// else the username's. A failure that finds a block already in force (it
// raced past Blocked) is not counted, and that block is returned.
func (t *Throttle) Fail(src netip.Addr, username string, now time.Time) (b Block, started bool) {
	src = srcKey(src)
	t.mu.Lock()
	defer t.mu.Unlock()
	sk := throttleKey{src: src}
	if b, blocked := t.blockLocked(sk, now); blocked {
		return b, false
	}
	var ub Block
	var uok bool
	if user := userKey(username); user != "" {
		uk := throttleKey{src: src, user: user}
		if b, blocked := t.blockLocked(uk, now); blocked {
			return b, false
		}
		ub, uok = t.failLocked(uk, t.opts.Failures, now)
	}
	if sb, sok := t.failLocked(sk, t.opts.SourceFailures, now); sok {
		return sb, true
	}
	return ub, uok
}

func (t *Throttle) failLocked(k throttleKey, limit int, now time.Time) (Block, bool) {
	f, ok := t.entries[k]
	if !ok {
		t.makeRoomLocked(now)
		f = &failures{}
		t.entries[k] = f
	}
	if now.Before(f.blockedUntil) {
		return Block{}, false
	}
	f.times = append(pruneBefore(f.times, now.Add(-t.opts.Window)), now)
	if len(f.times) < limit {
		return Block{}, false
	}
	f.blockedAfter = len(f.times)
	f.times = f.times[:0]
	f.blockedUntil = now.Add(t.opts.Block)
	return Block{Source: k.src, Username: k.user, Failures: f.blockedAfter, Until: f.blockedUntil}, true
}

// Blocks lists the blocks in force at now, by source then username (the
// source's own block first).
func (t *Throttle) Blocks(now time.Time) []Block {
	t.mu.Lock()
	var out []Block
	for k := range t.entries {
		if b, ok := t.blockLocked(k, now); ok {
			out = append(out, b)
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b Block) int {
		return cmp.Or(a.Source.Compare(b.Source), cmp.Compare(a.Username, b.Username))
	})
	return out
}

// UnblockSource lifts every block of src (its own and its usernames') and
// forgets their failures; it returns how many blocks were lifted.
func (t *Throttle) UnblockSource(src netip.Addr, now time.Time) int {
	src = srcKey(src)
	return t.unblock(func(k throttleKey) bool { return k.src == src }, now)
}

// UnblockUsername lifts the blocks of username from every source. The
// failures those sources counted toward their ceiling are forgotten too
// (the office forgave them), unless a source is itself blocked.
func (t *Throttle) UnblockUsername(username string, now time.Time) int {
	user := userKey(username)
	if user == "" {
		return 0
	}
	return t.unblock(func(k throttleKey) bool { return k.user == user }, now)
}

func (t *Throttle) unblock(match func(throttleKey) bool, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for k, f := range t.entries {
		if !match(k) {
			continue
		}
		if now.Before(f.blockedUntil) {
			n++
			if sf, ok := t.entries[throttleKey{src: k.src}]; ok && k.user != "" && !now.Before(sf.blockedUntil) {
				sf.times = sf.times[:0]
			}
		}
		delete(t.entries, k)
	}
	return n
}

// Sweep forgets entries with nothing left to remember.
func (t *Throttle) Sweep(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweepLocked(now)
}

func (t *Throttle) sweepLocked(now time.Time) {
	for k, f := range t.entries {
		f.times = pruneBefore(f.times, now.Add(-t.opts.Window))
		if len(f.times) == 0 && !now.Before(f.blockedUntil) {
			delete(t.entries, k)
		}
	}
}

func (t *Throttle) makeRoomLocked(now time.Time) {
	if len(t.entries) < maxThrottleEntries {
		return
	}
	t.sweepLocked(now)
	for len(t.entries) >= maxThrottleEntries {
		var victim throttleKey
		var vf *failures
		for k, f := range t.entries {
			if now.Before(f.blockedUntil) || len(f.times) == 0 {
				continue // blocks are kept: evicting them would unblock an attacker
			}
			if vf == nil || f.times[len(f.times)-1].Before(vf.times[len(vf.times)-1]) {
				victim, vf = k, f
			}
		}
		if vf == nil {
			return // everything is blocked: grow rather than forget a block
		}
		delete(t.entries, victim)
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
