package routing

import (
	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/routing/presence"
)

// featureStatus answers a feature code that was carried out. Nothing is
// connected, so the answer is a final non-2xx (docs/spec.md §4); 480 makes phones
// show the reason phrase ("DND on") without a busy tone or a retry.
const featureStatus = 480

// handleFeature carries out a presence feature code dialled by the
// authenticated user and answers with the new state as reason phrase. The
// change is persisted before the answer, so it holds for the next call.
func (s *Server) handleFeature(req *sip.Request, snap *directory.Snapshot, user, dialled string) Status {
	f := presence.ParseFeature(snap, s.opts.FeatureCodes().WithDefaults(), user, dialled)
	if f.Status != 0 {
		s.log.Info("feature code refused", "user", user, "code", dialled, "status", f.Status, "call_id", callID(req))
		return refuse(f.Status, f.Reason)
	}
	if _, err := s.presence.Set(s.ctx, user, f.Op, presence.ByFeatureCode); err != nil {
		s.log.Error("feature code", "user", user, "code", dialled, "call_id", callID(req), "error", err)
		return refuse(500, "Presence Not Saved")
	}
	return refuse(featureStatus, f.Op.Phrase())
}
