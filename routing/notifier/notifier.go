// Package notifier owns the subscriptions deskgate serves as notifier (RFC
// 6665): the table of live subscriptions, indexed by id, watched resource
// and subscriber, and the NOTIFY state machine that sends one NOTIFY at a
// time per subscription, coalesces changes, ends subscriptions and resumes
// them after a restart. It knows nothing of SIP messages: a Transport
// renders and sends each NOTIFY, a Store persists the records. Only this
// package locks its table. It imports daemon/store (the record type) and
// routing/events (package names and reasons); it must not import sipgo,
// routing or anything above it.
package notifier

import (
	"fmt"
	"log/slog"
	"sync"
	"time"

	"deskgate/daemon/store"
	"deskgate/routing/events"
)

// NOTIFYs go out one at a time per subscription, in CSeq order: a change
// marks the subscription dirty and, if no sender runs for it, starts one.
// The sender renders the state when it sends, so changes that come while a
// NOTIFY is in flight are coalesced into the next one (every body is the
// full state). A subscriber that does not answer, or answers with an error,
// loses the subscription (RFC 6665 §4.2.2: 481 and timeouts end it; the
// phone's next refresh then gets 481 and subscribes again).

// Result is what became of one NOTIFY.
type Result int

const (
	// Alive: the subscriber took it (2xx) and the subscription goes on.
	Alive Result = iota
	// Ended: refused, unanswered, not sendable, or the last one (final
	// NOTIFY sent, or the watched resource went away): drop it.
	Ended
	// Stopped: cut short by our own stop, not by the subscriber. The
	// subscription stays in the store so the next start resumes it.
	Stopped
)

// Transport sends one NOTIFY for rec (CSeq and, for dialog, version
// already stepped) in the subscription's state, or terminated with reason
// ending when ending is not "". It blocks until the NOTIFY is answered.
type Transport interface {
	Send(rec store.Subscription, ending string) Result
}

// Store persists subscription records; *store.DB implements it.
type Store interface {
	PutSubscription(store.Subscription) error
	DeleteSubscription(id string) error
	Subscriptions(now time.Time) ([]store.Subscription, error)
	PurgeExpiredSubscriptions(now time.Time) (int, error)
}

// Options configure a Notifier; all fields are required but Log.
type Options struct {
	Transport Transport
	Store     Store
	Log       *slog.Logger
	// Go runs a sender in a goroutine the caller owns and waits for at
	// stop; false (f not run) once the caller is stopping.
	Go func(f func()) bool
}

// Notifier is the subscription table and its NOTIFY senders.
type Notifier struct {
	opts Options
	log  *slog.Logger

	mu         sync.Mutex
	byID       map[string]*sub
	byResource map[string]map[string]*sub
	perUser    map[string]int
}

// New returns an empty Notifier.
func New(opts Options) *Notifier {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	return &Notifier{opts: opts, log: opts.Log, byID: map[string]*sub{},
		byResource: map[string]map[string]*sub{}, perUser: map[string]int{}}
}

// Add inserts a new subscription and stores it; live subscriptions of the
// same phone to the same resource and event are dropped (the phone
// rebooted: their dialogs are dead). No NOTIFY is sent: call Notify once
// the SUBSCRIBE is answered.
func (n *Notifier) Add(rec store.Subscription) error {
	n.mu.Lock()
	err := n.insertLocked(&sub{rec: rec})
	n.mu.Unlock()
	if err != nil {
		return err
	}
	if err := n.opts.Store.PutSubscription(rec); err != nil {
		n.log.Error("store subscription", "user", rec.User, "resource", rec.Resource, "error", err)
	}
	n.mu.Lock()
	old := n.sameWatcherLocked(rec)
	n.mu.Unlock()
	for _, sb := range old {
		n.drop(sb)
	}
	return nil
}

// Get returns a copy of a subscription's record.
func (n *Notifier) Get(id string) (store.Subscription, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	sb, ok := n.byID[id]
	if !ok {
		return store.Subscription{}, false
	}
	return sb.copyRec(), true
}

// Refresh applies update to a live subscription's record, stores it and
// returns a copy. ErrGone when the subscription was dropped or is ending,
// even if that happens while the record is being written: a refresh
// racing with a failed NOTIFY cannot bring it back, in the table or in
// the store (where it would be resumed at the next start).
func (n *Notifier) Refresh(id string, update func(*store.Subscription)) (store.Subscription, error) {
	n.mu.Lock()
	sb, ok := n.byID[id]
	if !ok || !sb.live() {
		n.mu.Unlock()
		return store.Subscription{}, ErrGone
	}
	update(&sb.rec)
	rec := sb.copyRec()
	n.mu.Unlock()
	if err := n.opts.Store.PutSubscription(rec); err != nil {
		n.log.Error("store subscription", "user", rec.User, "resource", rec.Resource, "error", err)
	}
	n.mu.Lock()
	live := sb.live()
	n.mu.Unlock()
	if !live {
		// Dropped while we wrote: our write must not outlive it.
		if err := n.opts.Store.DeleteSubscription(rec.ID); err != nil {
			n.log.Error("delete subscription", "user", rec.User, "resource", rec.Resource, "error", err)
		}
		return store.Subscription{}, ErrGone
	}
	return rec, nil
}

// Notify schedules a NOTIFY with the subscription's current state.
func (n *Notifier) Notify(id string) { n.scheduleID(id, "") }

// End schedules the subscription's last NOTIFY (Subscription-State
// terminated with reason), after which it is removed from the table and
// the store.
func (n *Notifier) End(id, reason string) { n.scheduleID(id, reason) }

// NotifyResource schedules a NOTIFY to every subscription of a resource.
func (n *Notifier) NotifyResource(resource string) {
	n.mu.Lock()
	list := n.watchingLocked(resource)
	n.mu.Unlock()
	for _, sb := range list {
		n.schedule(sb, "")
	}
}

// NotifyPrefix schedules a NOTIFY to every subscription whose resource
// starts with prefix and, if user is not "", whose subscriber is user.
func (n *Notifier) NotifyPrefix(prefix, user string) {
	n.mu.Lock()
	list := n.matchingLocked(prefix, user)
	n.mu.Unlock()
	for _, sb := range list {
		n.schedule(sb, "")
	}
}

// Watching returns copies of the records of a resource's subscriptions,
// in id order.
func (n *Notifier) Watching(resource string) []store.Subscription {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := n.watchingLocked(resource)
	out := make([]store.Subscription, len(list))
	for i, sb := range list {
		out[i] = sb.copyRec()
	}
	return out
}

// All returns copies of every record, in id order.
func (n *Notifier) All() []store.Subscription {
	n.mu.Lock()
	defer n.mu.Unlock()
	list := n.matchingLocked("", "")
	out := make([]store.Subscription, len(list))
	for i, sb := range list {
		out[i] = sb.copyRec()
	}
	return out
}

// Count is the number of subscriptions in the table.
func (n *Notifier) Count() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.byID)
}

// Fetch sends the one NOTIFY of a fetch (RFC 6665 §4.4.3: a SUBSCRIBE
// with Expires: 0): the state, terminated;reason=timeout; no subscription
// is kept.
func (n *Notifier) Fetch(rec store.Subscription) {
	rec.CSeq++
	n.opts.Go(func() { n.opts.Transport.Send(rec, events.ReasonTimeout) })
}

// Drop removes a subscription from the table and the store at once, with
// no final NOTIFY.
func (n *Notifier) Drop(id string) {
	n.mu.Lock()
	sb, ok := n.byID[id]
	n.mu.Unlock()
	if ok {
		n.drop(sb)
	}
}

func (n *Notifier) scheduleID(id, ending string) {
	n.mu.Lock()
	sb, ok := n.byID[id]
	n.mu.Unlock()
	if ok {
		n.schedule(sb, ending)
	}
}

func (n *Notifier) schedule(sb *sub, ending string) {
	n.mu.Lock()
	if !sb.live() {
		n.mu.Unlock()
		return
	}
	sb.dirty = true
	if ending != "" {
		sb.ending = ending
	}
	if sb.sending {
		n.mu.Unlock()
		return
	}
	sb.sending = true
	n.mu.Unlock()
	if !n.opts.Go(func() { n.sendLoop(sb) }) {
		n.mu.Lock()
		sb.sending = false
		n.mu.Unlock()
	}
}

// sendLoop sends NOTIFYs for sb until nothing is pending.
func (n *Notifier) sendLoop(sb *sub) {
	for {
		n.mu.Lock()
		if !sb.dirty || sb.gone {
			sb.sending = false
			n.mu.Unlock()
			return
		}
		sb.dirty = false
		ending := sb.ending
		sb.rec.CSeq++
		rec := sb.copyRec()
		if rec.Package == events.PackageDialog {
			sb.rec.Version++ // rec keeps the version this NOTIFY carries
		}
		n.mu.Unlock()
		res := n.opts.Transport.Send(rec, ending)
		if res == Stopped && ending == "" {
			// Cut short by our own stop, not refused by the subscriber:
			// keep it in the store so the next start resumes it.
			n.mu.Lock()
			sb.sending = false
			n.mu.Unlock()
			return
		}
		if ending != "" || res != Alive {
			n.drop(sb)
			return
		}
	}
}

// drop removes sb from the table and the store.
func (n *Notifier) drop(sb *sub) {
	n.mu.Lock()
	n.removeLocked(sb)
	sb.sending = false
	rec := sb.rec
	n.mu.Unlock()
	if err := n.opts.Store.DeleteSubscription(rec.ID); err != nil {
		n.log.Error("delete subscription", "user", rec.User, "resource", rec.Resource, "error", err)
	}
}

// Load fills the table with the store's unexpired subscriptions, CSeq and
// version moved past anything sent before the restart.
func (n *Notifier) Load(now time.Time) error {
	recs, err := n.opts.Store.Subscriptions(now)
	if err != nil {
		return fmt.Errorf("load subscriptions: %w", err)
	}
	for _, rec := range recs {
		rec.CSeq += resumeStep
		rec.Version += resumeStep
		n.mu.Lock()
		err := n.insertLocked(&sub{rec: rec})
		n.mu.Unlock()
		if err != nil {
			n.log.Warn("subscription not resumed", "user", rec.User, "resource", rec.Resource, "error", err)
		}
	}
	if len(recs) > 0 {
		n.log.Info("subscriptions resumed", "count", n.Count())
	}
	return nil
}

// Resume sends every subscription a NOTIFY with the current state: lamps
// that changed while the daemon was down are right again, and dead
// subscribers are found out.
func (n *Notifier) Resume() { n.NotifyPrefix("", "") }

// Sweep ends expired subscriptions with a last NOTIFY
// (terminated;reason=timeout) and purges expired records from the store.
func (n *Notifier) Sweep(now time.Time) {
	n.mu.Lock()
	list := n.expiredLocked(now)
	recs := make([]store.Subscription, len(list))
	for i, sb := range list {
		recs[i] = sb.rec
	}
	n.mu.Unlock()
	for i, sb := range list {
		n.log.Debug("subscription expired", "user", recs[i].User, "resource", recs[i].Resource)
		n.schedule(sb, events.ReasonTimeout)
	}
	if _, err := n.opts.Store.PurgeExpiredSubscriptions(now); err != nil {
		n.log.Error("purge expired subscriptions", "error", err)
	}
}
