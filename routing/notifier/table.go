package notifier

import (
	"cmp"
	"errors"
	"slices"
	"strings"
	"time"

	"deskgate/daemon/store"
)

// Table bounds: a phone has at most a few dozen keys; the bounds stop a
// misbehaving one from filling memory.
const (
	maxPerUser = 200
	maxSubs    = 20000
	// resumeStep is added to CSeq and version when subscriptions are
	// resumed after a restart: both are persisted only on create and
	// refresh, and must keep increasing (RFC 3261 §12.2.1.1, RFC 4235
	// §4.1.1). Far more than the NOTIFYs one subscription gets between
	// two refreshes.
	resumeStep = 10000
)

// ErrLimit is returned by Add when a table bound is reached.
var ErrLimit = errors.New("subscription limit reached")

// ErrGone is returned by Refresh when the subscription is not in the
// table, or is ending: a refresh cannot bring it back.
var ErrGone = errors.New("subscription does not exist")

// ID is a subscription's key: our dialog tag is random per SUBSCRIBE
// dialog; the Event (with its id) tells subscriptions in one dialog apart.
func ID(localTag, callID, event string) string {
	return localTag + ";" + event + ";" + callID
}

// sub is one live subscription. Every field is guarded by Notifier.mu;
// the sender fields serialise NOTIFYs per subscription.
type sub struct {
	rec store.Subscription

	sending bool   // a sender goroutine owns the next NOTIFY
	dirty   bool   // state changed since the sender rendered
	ending  string // non-empty: send a final NOTIFY with this reason, then drop
	gone    bool   // removed from the table
}

// live reports whether sb is in the table and not ending.
func (sb *sub) live() bool { return !sb.gone && sb.ending == "" }

// copyRec is a copy of the record that shares no slice with the table.
func (sb *sub) copyRec() store.Subscription {
	r := sb.rec
	r.RouteSet = slices.Clone(r.RouteSet)
	return r
}

// The table indexes below are only called with Notifier.mu held.

func (n *Notifier) insertLocked(sb *sub) error {
	if len(n.byID) >= maxSubs || n.perUser[sb.rec.User] >= maxPerUser {
		return ErrLimit
	}
	n.byID[sb.rec.ID] = sb
	m := n.byResource[sb.rec.Resource]
	if m == nil {
		m = map[string]*sub{}
		n.byResource[sb.rec.Resource] = m
	}
	m[sb.rec.ID] = sb
	n.perUser[sb.rec.User]++
	return nil
}

// removeLocked drops a subscription from every index.
func (n *Notifier) removeLocked(sb *sub) {
	if sb.gone {
		return
	}
	sb.gone = true
	delete(n.byID, sb.rec.ID)
	if m := n.byResource[sb.rec.Resource]; m != nil {
		delete(m, sb.rec.ID)
		if len(m) == 0 {
			delete(n.byResource, sb.rec.Resource)
		}
	}
	if n.perUser[sb.rec.User]--; n.perUser[sb.rec.User] <= 0 {
		delete(n.perUser, sb.rec.User)
	}
}

// selectLocked returns the subscriptions keep accepts, in id order.
func (n *Notifier) selectLocked(from map[string]*sub, keep func(*sub) bool) []*sub {
	var out []*sub
	for _, sb := range from {
		if keep(sb) {
			out = append(out, sb)
		}
	}
	slices.SortFunc(out, func(a, b *sub) int { return cmp.Compare(a.rec.ID, b.rec.ID) })
	return out
}

func (n *Notifier) watchingLocked(resource string) []*sub {
	return n.selectLocked(n.byResource[resource], func(*sub) bool { return true })
}

func (n *Notifier) matchingLocked(prefix, user string) []*sub {
	return n.selectLocked(n.byID, func(sb *sub) bool {
		return strings.HasPrefix(sb.rec.Resource, prefix) && (user == "" || sb.rec.User == user)
	})
}

// sameWatcherLocked returns live subscriptions of the same phone (contact)
// to the same resource and event: what a rebooted phone leaves behind.
func (n *Notifier) sameWatcherLocked(rec store.Subscription) []*sub {
	return n.selectLocked(n.byResource[rec.Resource], func(sb *sub) bool {
		r := sb.rec
		return r.ID != rec.ID && r.User == rec.User && r.Contact == rec.Contact && r.Event == rec.Event && sb.ending == ""
	})
}

func (n *Notifier) expiredLocked(now time.Time) []*sub {
	return n.selectLocked(n.byID, func(sb *sub) bool { return !sb.rec.Expires.After(now) && sb.ending == "" })
}
