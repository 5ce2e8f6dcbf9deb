// Package presence owns users' DND and away state while the daemon runs: an
// in-memory copy of the store's presence records that call routing reads
// without touching the disk, the pure transitions (a feature code or a
// control request → the new state), the write-through to the store, and the
// change feed that key LEDs and other listeners subscribe to. It imports
// daemon/directory and daemon/store only; it must not import routing,
// sipgo, daemon or provisioning.
package presence

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// Origins of a change, for Change.By and logs.
const (
	ByFeatureCode = "feature_code"
	ByControl     = "control"
)

// Options are the Service's dependencies. Store is required.
type Options struct {
	Store *store.DB
	Log   *slog.Logger // nil = discard
	// Directory, if set, gives the current office: SetAway then refuses a
	// department the user does not operate and knows the user's
	// departments when they come back for one while away from all.
	Directory func() *directory.Snapshot
	Now       func() time.Time // nil = time.Now
}

// Service holds every user's presence. Reads are lock-free loads of an
// immutable map (presence changes are rare, calls read it on every INVITE);
// writes are serialised, persisted, then published.
type Service struct {
	db   *store.DB
	log  *slog.Logger
	dir  func() *directory.Snapshot
	now  func() time.Time
	cur  atomic.Pointer[map[string]store.Presence]
	wmu  sync.Mutex // serialises writers: compute, persist, swap, publish
	feed feed
}

// New loads every stored presence record and returns the Service.
func New(opts Options) (*Service, error) {
	if opts.Store == nil {
		return nil, fmt.Errorf("presence: store is required")
	}
	s := &Service{db: opts.Store, log: opts.Log, dir: opts.Directory, now: opts.Now}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "presence")
	if s.now == nil {
		s.now = time.Now
	}
	all, err := opts.Store.AllPresence()
	if err != nil {
		return nil, fmt.Errorf("load presence: %w", err)
	}
	m := make(map[string]store.Presence, len(all))
	for _, p := range all {
		p.Away = normalizeAway(p.Away)
		m[p.User] = p
	}
	s.cur.Store(&m)
	return s, nil
}

// Get returns user's presence; the zero state (User set) when none.
func (s *Service) Get(user string) store.Presence {
	p, ok := (*s.cur.Load())[user]
	if !ok {
		return store.Presence{User: user}
	}
	p.Away = slices.Clone(p.Away)
	return p
}

// DND reports whether user is in do-not-disturb.
func (s *Service) DND(user string) bool { return (*s.cur.Load())[user].DND }

// Away reports whether user is away for department dept (or for all).
func (s *Service) Away(user, dept string) bool { return (*s.cur.Load())[user].AwayFrom(dept) }

// All returns every user with a stored state, ordered by user (what a
// subscriber re-reads after a Resync).
func (s *Service) All() []store.Presence {
	m := *s.cur.Load()
	out := make([]store.Presence, 0, len(m))
	for _, p := range m {
		p.Away = slices.Clone(p.Away)
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b store.Presence) int { return cmp.Compare(a.User, b.User) })
	return out
}

// SetDND turns user's do-not-disturb on or off; by names the origin
// (ByFeatureCode, ByControl).
func (s *Service) SetDND(ctx context.Context, user string, on bool, by string) (store.Presence, error) {
	return s.Set(ctx, user, Op{Kind: KindDND, On: on}, by)
}

// SetAway turns user's away state on or off for department dept, or for
// every department when dept is "".
func (s *Service) SetAway(ctx context.Context, user, dept string, on bool, by string) (store.Presence, error) {
	return s.Set(ctx, user, Op{Kind: KindAway, On: on, Department: dept}, by)
}

// Set carries out op for user: the new state is persisted, then becomes
// visible to routing, then is published to subscribers. A change that
// changes nothing is neither written nor published.
func (s *Service) Set(ctx context.Context, user string, op Op, by string) (store.Presence, error) {
	var depts []string
	if s.dir != nil && op.Kind == KindAway {
		snap := s.dir()
		if snap == nil {
			return store.Presence{}, fmt.Errorf("set away of %s: no directory loaded", user)
		}
		for _, d := range snap.DepartmentsOf(user) {
			depts = append(depts, d.ID)
		}
		if op.Department != "" && !slices.Contains(depts, op.Department) {
			return store.Presence{}, fmt.Errorf("set away of %s: not an operator of department %q", user, op.Department)
		}
	}
	return s.Update(ctx, user, by, func(p store.Presence) store.Presence { return Apply(p, op, depts) })
}

// Update is the general write: f gets user's current state and returns the
// new one (User and Updated are set by Update). It exists for callers with
// their own transition (the control API); Set is built on it.
func (s *Service) Update(ctx context.Context, user, by string, f func(store.Presence) store.Presence) (store.Presence, error) {
	if user == "" {
		return store.Presence{}, fmt.Errorf("update presence: empty user")
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return store.Presence{}, fmt.Errorf("update presence of %s: %w", user, err)
	}
	old := s.Get(user)
	next := f(s.Get(user))
	next.User, next.Away = user, normalizeAway(next.Away)
	if Same(old, next) {
		return old, nil
	}
	next.Updated = s.now()
	if err := s.db.PutPresence(next); err != nil {
		return old, fmt.Errorf("update presence of %s: %w", user, err)
	}
	m := maps.Clone(*s.cur.Load())
	m[user] = next
	s.cur.Store(&m)
	s.log.Info("presence changed", "user", user, "dnd", next.DND, "away", next.Away, "by", by)
	s.feed.publish(Change{User: user, Old: old, New: next, By: by, Time: next.Updated})
	return s.Get(user), nil
}
