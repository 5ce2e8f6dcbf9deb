package routing

import (
	"fmt"
	"time"

	"deskgate/routing/events"
)

// loadSubscriptions fills the table with the store's unexpired
// subscriptions, CSeq and version moved past anything sent before the
// restart (resumeStep).
func (s *Server) loadSubscriptions(now time.Time) error {
	recs, err := s.opts.Store.Subscriptions(now)
	if err != nil {
		return fmt.Errorf("load subscriptions: %w", err)
	}
	for _, rec := range recs {
		rec.CSeq += resumeStep
		rec.Version += resumeStep
		if _, err := s.subs.add(rec); err != nil {
			s.log.Warn("subscription not resumed", "user", rec.User, "resource", rec.Resource, "error", err)
		}
	}
	if len(recs) > 0 {
		s.log.Info("subscriptions resumed", "count", s.subs.count())
	}
	return nil
}

// resumeSubscriptions sends every loaded subscription a NOTIFY with the
// current state: lamps that changed while the daemon was down are right
// again, and dead subscribers are found out.
func (s *Server) resumeSubscriptions() {
	for _, sb := range s.subs.all() {
		s.notify(sb)
	}
}

// sweepSubscriptions ends expired subscriptions with a last NOTIFY
// (terminated;reason=timeout), purges them from the store, and forgets
// ended calls and idle rate-limit buckets.
func (s *Server) sweepSubscriptions(now time.Time) {
	for _, sb := range s.subs.expired(now) {
		s.log.Debug("subscription expired", "user", sb.rec.User, "resource", sb.rec.Resource)
		s.endSub(sb, events.ReasonTimeout)
	}
	if _, err := s.opts.Store.PurgeExpiredSubscriptions(now); err != nil {
		s.log.Error("purge expired subscriptions", "error", err)
	}
	s.notifyLines(s.lines.sweep(now))
	s.subLimit.sweep(now)
}
