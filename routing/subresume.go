package routing

import "time"

// sweepSubscriptions ends expired subscriptions (routing/notifier), and
// forgets ended calls and idle rate-limit buckets.
func (s *Server) sweepSubscriptions(now time.Time) {
	s.subs.Sweep(now)
	s.notifyLines(s.lines.sweep(now))
	s.subLimit.sweep(now)
}
