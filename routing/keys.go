package routing

import (
	"context"
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/events"
	"deskgate/routing/fork"
	"deskgate/routing/presence"
)

// render is the NOTIFY body of a subscription now. gone is non-empty when
// the resource no longer exists or the subscriber may no longer watch it
// (a directory change): the NOTIFY then ends the subscription.
func (s *Server) render(rec store.Subscription) (ctype string, body []byte, gone string) {
	snap := s.opts.Directory()
	if snap == nil {
		snap = directory.Empty()
	}
	kind, name, _ := strings.Cut(rec.Resource, ":")
	switch kind + ":" {
	case resDND:
		device := rec.Device
		u, ok := snap.User(name)
		if device == "" && ok {
			device = u.Extension
		}
		if !ok {
			gone = events.ReasonNoResource
		}
		return events.FeatureContentType, events.DNDEvent(device, s.presence.DND(name)), gone
	case resLine:
		if _, ok := snap.ByExtension(name); !ok {
			gone = events.ReasonNoResource
		}
		info := events.Info{Version: rec.Version, Full: true, Entity: rec.LocalURI,
			Dialogs: s.lines.dialogs(name, s.opts.Domain, lineInsider(snap, rec.User, name))}
		return events.DialogContentType, info.Marshal(), gone
	case resAway:
		info := events.Info{Version: rec.Version, Full: true, Entity: rec.LocalURI}
		if name != store.AwayAll && !operates(snap, rec.User, name) {
			gone = events.ReasonRejected
		} else if awayLit(snap, s.presence.Get(rec.User), name) {
			// Lamp on: one confirmed dialog, as BLF shows a busy line.
			info.Dialogs = []events.Dialog{{ID: "away", Direction: events.Recipient, State: events.StateConfirmed}}
		}
		return events.DialogContentType, info.Marshal(), gone
	case resSCA, resSeize:
		_, gone = s.scaRender(snap, rec)
		return "", nil, gone
	}
	return "", nil, events.ReasonNoResource
}

func operates(snap *directory.Snapshot, user, dept string) bool {
	for _, d := range snap.DepartmentsOf(user) {
		if d.ID == dept {
			return true
		}
	}
	return false
}

// presenceLoop NOTIFYs the DND and away keys of every change the presence
// service makes, whoever made it (a phone key, a feature code, the control
// API), until ctx ends.
func (s *Server) presenceLoop(ctx context.Context, feed <-chan presence.Change) {
	for {
		select {
		case <-ctx.Done():
			return
		case c, ok := <-feed:
			if !ok {
				return
			}
			s.presenceChanged(c)
		}
	}
}

func (s *Server) presenceChanged(c presence.Change) {
	if c.Resync {
		s.subs.NotifyPrefix(resDND, "")
		s.subs.NotifyPrefix(resAway, "")
		return
	}
	if c.Old.DND != c.New.DND {
		s.subs.NotifyResource(resDND + c.User)
	}
	if !presence.Same(store.Presence{User: c.User, Away: c.Old.Away}, store.Presence{User: c.User, Away: c.New.Away}) {
		s.subs.NotifyPrefix(resAway, c.User)
	}
}

// notifyLines NOTIFYs the BLF watchers of extensions.
func (s *Server) notifyLines(exts []string) {
	for _, ext := range exts {
		s.subs.NotifyResource(resLine + ext)
	}
}

// lineEvent feeds a fork event to the BLF table.
func (s *Server) lineEvent(ev fork.Event) {
	ext := ""
	if ev.Branch.User != "" {
		if snap := s.opts.Directory(); snap != nil {
			if u, ok := snap.User(ev.Branch.User); ok {
				ext = u.Extension
			}
		}
	}
	s.notifyLines(s.lines.event(ev, ext, ev.Time))
	s.scaForkEvent(ev)
}

// handleAwayKey toggles the caller's away state for the department (or
// all departments) an away key stands for: pressing the key dials the
// resource it watches. The answer is a final non-2xx like a feature
// code's, naming the new state; the lamps follow through the presence feed.
func (s *Server) handleAwayKey(req *sip.Request, snap *directory.Snapshot, user string) Status {
	res, _ := awayResource(snap, user, req.Recipient.User)
	if res.st.Code != 0 {
		return res.st
	}
	dept := strings.TrimPrefix(res.key, resAway)
	op := presence.Op{Kind: presence.KindAway, On: !awayLit(snap, s.presence.Get(user), dept)}
	if dept != store.AwayAll {
		op.Department = dept
	}
	if _, err := s.presence.Set(s.ctx, user, op, byFeatureKey); err != nil {
		s.log.Error("away key", "user", user, "department", dept, "call_id", callID(req), "error", err)
		return refuse(500, "Presence Not Saved")
	}
	return refuse(featureStatus, op.Phrase())
}
