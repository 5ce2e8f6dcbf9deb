package routing

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"deskgate/daemon/store"
)

// maxContactsPerUser bounds one user's bindings; a new contact beyond it
// replaces the one refreshed longest ago (a phone that rebooted onto a new
// port leaves a stale binding behind until it expires).
const maxContactsPerUser = 10

// bindings is the registrar's table: map[user][]Binding under a mutex, each
// user's slice replaced, never mutated, so readers keep a stable slice. Every
// change is queued to the store's write-behind as it becomes visible (the
// REGISTER's answer never waits on the disk; the store commits within its
// flush interval), so routing works right after a restart without phones
// re-registering; a crash loses at most that interval's registrations.
type bindings struct {
	db *store.DB

	wmu    sync.Mutex // serialises writers: compute, persist, swap
	mu     sync.RWMutex
	byUser map[string][]store.Binding
}

func newBindings(db *store.DB) *bindings {
	return &bindings{db: db, byUser: make(map[string][]store.Binding)}
}

// load replaces the table with the store's live bindings.
func (b *bindings) load(now time.Time) error {
	all, err := b.db.AllBindings(now)
	if err != nil {
		return fmt.Errorf("load bindings: %w", err)
	}
	m := make(map[string][]store.Binding)
	for _, bd := range all {
		m[bd.User] = append(m[bd.User], bd)
	}
	b.mu.Lock()
	b.byUser = m
	b.mu.Unlock()
	return nil
}

// get returns the user's live bindings (read only).
func (b *bindings) get(user string, now time.Time) []store.Binding {
	b.mu.RLock()
	bs := b.byUser[user]
	b.mu.RUnlock()
	return liveOnly(bs, now)
}

// all returns every live binding, sorted by user then contact.
func (b *bindings) all(now time.Time) []store.Binding {
	b.mu.RLock()
	var out []store.Binding
	for _, bs := range b.byUser {
		out = append(out, liveOnly(bs, now)...)
	}
	b.mu.RUnlock()
	slices.SortFunc(out, func(x, y store.Binding) int {
		return cmp.Or(cmp.Compare(x.User, y.User), cmp.Compare(x.Contact, y.Contact))
	})
	return out
}

// onConn reports whether a live binding was registered over the TCP
// connection from remote ("ip:port"): that connection is how the phone is
// reached, so it must stay open.
func (b *bindings) onConn(remote string, now time.Time) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for _, bs := range b.byUser {
		for _, bd := range bs {
			if bd.Source == remote && bd.Expires.After(now) && !strings.EqualFold(bd.Transport, "udp") {
				return true
			}
		}
	}
	return false
}

// count is the number of live bindings.
func (b *bindings) count(now time.Time) int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := 0
	for _, bs := range b.byUser {
		for _, bd := range bs {
			if bd.Expires.After(now) {
				n++
			}
		}
	}
	return n
}

// update applies one REGISTER's changes for user: upserts (Expires in the
// future) and removals (Expires not after now), persisting them, and returns
// the user's resulting bindings.
func (b *bindings) update(user string, changes []store.Binding, now time.Time) ([]store.Binding, error) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	cur := b.get(user, now)
	next, removed := mergeBindings(cur, changes, now)
	for _, c := range removed {
		if err := b.db.QueueDeleteBinding(user, c); err != nil {
			return nil, err
		}
	}
	for _, bd := range next {
		if changed(cur, bd) {
			if err := b.db.QueueBinding(bd); err != nil {
				return nil, err
			}
		}
	}
	b.swap(user, next)
	return next, nil
}

// removeAll drops every binding of user (Contact: *).
func (b *bindings) removeAll(user string) error {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	if err := b.db.QueueDeleteBindings(user); err != nil {
		return err
	}
	b.swap(user, nil)
	return nil
}

func (b *bindings) swap(user string, next []store.Binding) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(next) == 0 {
		delete(b.byUser, user)
		return
	}
	b.byUser[user] = next
}

// sweep drops expired bindings from memory and the store.
func (b *bindings) sweep(now time.Time) (int, error) {
	b.wmu.Lock()
	defer b.wmu.Unlock()
	b.mu.Lock()
	for user, bs := range b.byUser {
		live := liveOnly(bs, now)
		if len(live) == len(bs) {
			continue
		}
		if len(live) == 0 {
			delete(b.byUser, user)
		} else {
			b.byUser[user] = live
		}
	}
	b.mu.Unlock()
	n, err := b.db.PurgeExpired(now)
	if err != nil {
		return 0, fmt.Errorf("purge expired bindings: %w", err)
	}
	return n, nil
}

// mergeBindings computes a user's new binding list from the current one and
// a REGISTER's changes, RFC 3261 §10.3 steps 7 and 8 plus instance-id
// replacement; it returns the new list and the contacts to delete.
func mergeBindings(cur, changes []store.Binding, now time.Time) (next []store.Binding, removed []string) {
	next = slices.Clone(cur)
	for _, c := range changes {
		i := slices.IndexFunc(next, func(x store.Binding) bool {
			return x.Contact == c.Contact || (c.InstanceID != "" && x.InstanceID == c.InstanceID)
		})
		if !c.Expires.After(now) {
			if i >= 0 && next[i].Contact == c.Contact {
				removed = append(removed, c.Contact)
				next = slices.Delete(next, i, i+1)
			}
			continue
		}
		if i >= 0 {
			if next[i].Contact != c.Contact {
				removed = append(removed, next[i].Contact)
			}
			next[i] = c
			continue
		}
		if len(next) >= maxContactsPerUser {
			oldest := 0
			for j := range next {
				if next[j].Updated.Before(next[oldest].Updated) {
					oldest = j
				}
			}
			removed = append(removed, next[oldest].Contact)
			next = slices.Delete(next, oldest, oldest+1)
		}
		next = append(next, c)
	}
	return next, removed
}

// outOfOrder reports whether a change must be refused because the same
// Call-ID already registered this contact with a CSeq at least as high
// (RFC 3261 §10.3 step 7).
func outOfOrder(cur []store.Binding, c store.Binding) bool {
	for _, x := range cur {
		if x.Contact == c.Contact && x.CallID == c.CallID && c.CSeq <= x.CSeq {
			return true
		}
	}
	return false
}

func changed(cur []store.Binding, bd store.Binding) bool {
	for _, x := range cur {
		if x == bd {
			return false
		}
	}
	return true
}

func liveOnly(bs []store.Binding, now time.Time) []store.Binding {
	for i, bd := range bs {
		if !bd.Expires.After(now) {
			out := slices.Clone(bs[:i])
			for _, x := range bs[i+1:] {
				if x.Expires.After(now) {
					out = append(out, x)
				}
			}
			return out
		}
	}
	return bs
}
