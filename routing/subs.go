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

// Subscriptions the daemon serves itself (key LEDs): as-feature-event for
// a user's DND key, dialog for BLF keys on extensions and for away keys.
// Each is a SUBSCRIBE dialog in which we are the notifier (RFC 6665). They
// are kept in memory for the NOTIFYs and written to the store when created,
// refreshed or ended, so a restart resumes them.

// Resources a subscription watches (store.Subscription.Resource).
const (
	resDND  = "dnd:"  // + user id: that user's DND (as-feature-event)
	resLine = "line:" // + extension: calls of a user or department (dialog)
	resAway = "away:" // + department id or "*": the subscriber's away state (dialog)
	// Shared call appearance (sharedline.go): + the line's extension.
	resSCA   = "sca:"   // call-info: the line's appearances
	resSeize = "seize:" // line-seize: the subscriber's seize of an appearance
)

// Subscription limits: expiry bounds and table sizes (a phone has at most
// a few dozen keys; the bounds stop a misbehaving one from filling memory).
const (
	subMinExpires     = 60
	subMaxExpires     = 3600
	subDefaultExpires = 3600
	maxSubsPerUser    = 200
	maxSubs           = 20000
	// resumeStep is added to CSeq and version when subscriptions are
	// resumed after a restart: both are persisted only on create and
	// refresh, and must keep increasing (RFC 3261 §12.2.1.1, RFC 4235
	// §4.1.1). Far more than the NOTIFYs one subscription gets between
	// two refreshes.
	resumeStep = 10000
)

// subscription is one live subscription. rec is guarded by subTable.mu;
// the sender fields serialise NOTIFYs per subscription.
type subscription struct {
	rec store.Subscription

	sending bool   // a sender goroutine owns the next NOTIFY
	dirty   bool   // state changed since the sender rendered
	ending  string // non-empty: send a final NOTIFY with this reason, then drop
	gone    bool   // removed from the table
}

// subTable indexes subscriptions by id and by watched resource.
type subTable struct {
	mu         sync.Mutex
	byID       map[string]*subscription
	byResource map[string]map[string]*subscription
	perUser    map[string]int
}

func newSubTable() *subTable {
	return &subTable{byID: map[string]*subscription{}, byResource: map[string]map[string]*subscription{},
		perUser: map[string]int{}}
}

// subID is a subscription's key: our dialog tag is random per SUBSCRIBE
// dialog; the Event (with its id) tells subscriptions in one dialog apart.
func subID(localTag, callID, event string) string {
	return localTag + ";" + event + ";" + callID
}

// errSubLimit is returned by add when a table bound is reached.
var errSubLimit = fmt.Errorf("subscription limit reached")

// add inserts a subscription; it fails when the user or the table is full.
func (t *subTable) add(rec store.Subscription) (*subscription, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.byID) >= maxSubs || t.perUser[rec.User] >= maxSubsPerUser {
		return nil, errSubLimit
	}
	sb := &subscription{rec: rec}
	t.insertLocked(sb)
	return sb, nil
}

func (t *subTable) insertLocked(sb *subscription) {
	t.byID[sb.rec.ID] = sb
	m := t.byResource[sb.rec.Resource]
	if m == nil {
		m = map[string]*subscription{}
		t.byResource[sb.rec.Resource] = m
	}
	m[sb.rec.ID] = sb
	t.perUser[sb.rec.User]++
}

// removeLocked drops a subscription from every index.
func (t *subTable) removeLocked(sb *subscription) {
	if sb.gone {
		return
	}
	sb.gone = true
	delete(t.byID, sb.rec.ID)
	if m := t.byResource[sb.rec.Resource]; m != nil {
		delete(m, sb.rec.ID)
		if len(m) == 0 {
			delete(t.byResource, sb.rec.Resource)
		}
	}
	if t.perUser[sb.rec.User]--; t.perUser[sb.rec.User] <= 0 {
		delete(t.perUser, sb.rec.User)
	}
}

func (t *subTable) get(id string) (*subscription, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sb, ok := t.byID[id]
	return sb, ok
}

// watching returns the subscriptions of one resource, in id order.
func (t *subTable) watching(resource string) []*subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*subscription, 0, len(t.byResource[resource]))
	for _, sb := range t.byResource[resource] {
		out = append(out, sb)
	}
	slices.SortFunc(out, func(a, b *subscription) int { return cmp.Compare(a.rec.ID, b.rec.ID) })
	return out
}

// matching returns the subscriptions whose resource starts with prefix
// and, if user is set, whose subscriber is user.
func (t *subTable) matching(prefix, user string) []*subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*subscription
	for _, sb := range t.byID {
		if strings.HasPrefix(sb.rec.Resource, prefix) && (user == "" || sb.rec.User == user) {
			out = append(out, sb)
		}
	}
	slices.SortFunc(out, func(a, b *subscription) int { return cmp.Compare(a.rec.ID, b.rec.ID) })
	return out
}

// sameWatcher returns live subscriptions of the same phone (contact) to
// the same resource and event: what a rebooted phone leaves behind.
func (t *subTable) sameWatcher(rec store.Subscription) []*subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*subscription
	for _, sb := range t.byResource[rec.Resource] {
		r := sb.rec
		if r.ID != rec.ID && r.User == rec.User && r.Contact == rec.Contact && r.Event == rec.Event && sb.ending == "" {
			out = append(out, sb)
		}
	}
	return out
}

// expired returns the live subscriptions expired at now.
func (t *subTable) expired(now time.Time) []*subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*subscription
	for _, sb := range t.byID {
		if !sb.rec.Expires.After(now) && sb.ending == "" {
			out = append(out, sb)
		}
	}
	return out
}

// all returns every subscription, in id order.
func (t *subTable) all() []*subscription { return t.matching("", "") }

// count is the number of live subscriptions.
func (t *subTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// refresh applies update to a live subscription's record and returns a
// copy; false (nothing changed) when it was dropped or is ending, so a
// refresh racing with a failed NOTIFY cannot bring it back.
func (t *subTable) refresh(sb *subscription, update func(*store.Subscription)) (store.Subscription, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if sb.gone || sb.ending != "" {
		return store.Subscription{}, false
	}
	update(&sb.rec)
	r := sb.rec
	r.RouteSet = slices.Clone(r.RouteSet)
	return r, true
}

// live reports whether sb is still in the table and not ending.
func (t *subTable) live(sb *subscription) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return !sb.gone && sb.ending == ""
}

// record returns a copy of a subscription's record.
func (t *subTable) record(sb *subscription) store.Subscription {
	t.mu.Lock()
	defer t.mu.Unlock()
	r := sb.rec
	r.RouteSet = slices.Clone(r.RouteSet)
	return r
}
