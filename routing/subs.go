package routing

import "time"

// Subscriptions the daemon serves itself (key LEDs): as-feature-event for
// a user's DND key, dialog for BLF keys on extensions and for away keys.
// Each is a SUBSCRIBE dialog in which we are the notifier (RFC 6665). They
// are kept by routing/notifier (table, NOTIFY ordering, persistence and
// resumption); routing renders and sends each NOTIFY (notify.go).

// Resources a subscription watches (store.Subscription.Resource).
const (
	resDND  = "dnd:"  // + user id: that user's DND (as-feature-event)
	resLine = "line:" // + extension: calls of a user or department (dialog)
	resAway = "away:" // + department id or "*": the subscriber's away state (dialog)
	// Shared call appearance (sharedline.go): + the line's extension.
	resSCA   = "sca:"   // call-info: the line's appearances
	resSeize = "seize:" // line-seize: the subscriber's seize of an appearance
)

// Subscription expiry bounds (the table's own bounds are routing/notifier's).
const (
	subMinExpires     = 60
	subMaxExpires     = 3600
	subDefaultExpires = 3600
)

// sweepSubscriptions ends expired subscriptions (routing/notifier), and
// forgets ended calls and idle rate-limit buckets.
func (s *Server) sweepSubscriptions(now time.Time) {
	s.subs.Sweep(now)
	s.notifyLines(s.lines.sweep(now))
	s.subLimit.sweep(now)
}
