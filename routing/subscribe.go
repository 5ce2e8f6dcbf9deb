package routing

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/events"
	"deskgate/routing/ringplan"
)

// handleSubscribe serves SUBSCRIBEs. Every one, initial or in a dialog,
// first passes the per-source flood limit (503 with Retry-After beyond it).
//
// The daemon is the notifier for as-feature-event (DND key) and dialog
// (BLF and away keys): see acceptSubscription and refreshSubscription.
// Other packages are routed (record-routed, so refreshes and NOTIFYs follow
// Route like any dialog): message-summary (voicemail lives upstream) to the
// trunk, for the subscriber's own mailbox or an executive's whose active
// pairing grants the subscriber the voicemail permission (mailboxAllowed);
// presence (which no phone here serves) is refused at once with 489;
// anything else for a local user goes to that user's most recently
// registered phone.
func (s *Server) handleSubscribe(req *sip.Request, tx sip.ServerTransaction) Status {
	now := s.now()
	if ip, ok := sourceIP(req); ok && !s.trustedSource(req) && !s.subLimit.allow(ip, now) {
		return refuse(503, "Too Many Subscriptions", sip.NewHeader("Retry-After", "10"))
	}
	if hasToTag(req) {
		if st, ours := s.refreshSubscription(req, tx); ours {
			return st
		}
		return s.handleInDialog(req, tx)
	}
	ev, evOK := events.ParseEvent(headerValue(req, "Event"))
	if !evOK {
		return refuse(489, "Bad Event") // RFC 6665 §8.2.1: Event is mandatory
	}
	org, st, ok := s.admit(req, tx, now)
	if !ok {
		return st
	}
	snap := s.opts.Directory()
	fwd, st := s.initialRequest(req, org, snap)
	if st.Code != 0 {
		return st
	}
	if served(ev.Package) {
		return s.acceptSubscription(req, tx, org, snap, ev)
	}
	if isPresence(ev.Package) {
		// Nobody here serves presence (phones do not, and relaying it to
		// one left the watcher waiting 32 s for a 408): say so at once.
		return refuse(489, "Bad Event", sip.NewHeader("Allow-Events", allowEvents))
	}
	t := ringplan.Classify(snap, req.Recipient.User)
	var callee peer
	switch event := ev.Package; {
	case event == "message-summary":
		st = s.aimMailbox(fwd, snap, org, t)
		callee = peer{kind: peerTrunk}
	case t.Kind == ringplan.TargetUser:
		st = s.aimNewestPhone(fwd, t.User.ID)
		callee = flowPeer(t.User.ID, fwd.Destination(), fwd.Transport())
	default:
		st = refuse(404, "Not Found")
	}
	if st.Code != 0 {
		return st
	}
	if !decMaxForwards(fwd) {
		return refuse(483, "Too Many Hops")
	}
	if !org.fromTrunk {
		removeHeaders(fwd, "P-Asserted-Identity")
		removeHeaders(fwd, "P-Preferred-Identity")
	}
	s.addRecordRoute(fwd, req.Transport(), callerPeer(req, org), callee)
	return s.relay(req, tx, fwd)
}

// allowEvents is the Allow-Events header of a 489: the packages we notify
// for, and message-summary, which goes to the trunk.
const allowEvents = events.PackageFeature + ", " + events.PackageDialog + ", " + pkgCallInfo + ", " + pkgLineSeize +
	", message-summary"

// isPresence reports whether pkg is presence (RFC 3856) or one of its
// template packages (presence.winfo, RFC 3857).
func isPresence(pkg string) bool { return pkg == "presence" || strings.HasPrefix(pkg, "presence.") }

// aimMailbox sends a message-summary subscription to the trunk, where
// voicemail lives, when the subscriber may watch that mailbox: 403 when
// it may not (whether or not there is a trunk), 404 without a trunk.
func (s *Server) aimMailbox(fwd *sip.Request, snap *directory.Snapshot, org origin, t ringplan.Target) Status {
	if org.fromTrunk {
		return refuse(404, "Not Found")
	}
	if t.Kind != ringplan.TargetUser || !mailboxAllowed(snap, org.caller, t.User.ID) {
		s.log.Info("mailbox subscription refused", "user", org.caller, "mailbox", t.Number)
		return refuse(403, "Not Your Mailbox")
	}
	addr, transport, ok := s.trunkTarget()
	if !ok {
		return refuse(404, "No Voicemail Server") // voicemail lives upstream, behind the trunk
	}
	host, port, err := splitHostPort(addr)
	if err != nil {
		return refuse(500, "Trunk Misconfigured")
	}
	fwd.Recipient.Host, fwd.Recipient.Port = host, port
	fwd.SetTransport(strings.ToUpper(transport))
	fwd.SetDestination(hostPortString(host, port))
	s.pinLocal(fwd)
	return Status{}
}

// mailboxAllowed reports whether subscriber may watch owner's mailbox:
// their own, or an executive's whose active pairing with the subscriber
// grants the voicemail permission (docs/spec.md §4). Pending pairings, and active
// ones without the permission, grant nothing.
func mailboxAllowed(snap *directory.Snapshot, subscriber, owner string) bool {
	if subscriber == "" || owner == "" {
		return false
	}
	if subscriber == owner {
		return true
	}
	if snap == nil {
		return false
	}
	for _, p := range snap.ExecutivesOf(subscriber) {
		if p.Executive == owner && p.Active() && p.Has(directory.PermVoicemail) {
			return true
		}
	}
	return false
}

// aimNewestPhone points the request at the user's most recently
// registered contact.
func (s *Server) aimNewestPhone(fwd *sip.Request, user string) Status {
	bs := s.bindings.Get(user, s.now())
	if len(bs) == 0 {
		return refuse(480, "Temporarily Unavailable")
	}
	newest := bs[0]
	for _, b := range bs[1:] {
		if b.Updated.After(newest.Updated) {
			newest = b
		}
	}
	return s.aimBinding(fwd, newest)
}

// aimBinding sets Request-URI, destination and transport for a binding.
func (s *Server) aimBinding(fwd *sip.Request, b store.Binding) Status {
	c := contactOf(b)
	var u sip.Uri
	if err := sip.ParseUri(c.URI, &u); err != nil {
		return refuse(480, "Temporarily Unavailable")
	}
	fwd.Recipient = u
	fwd.SetTransport(strings.ToUpper(c.Transport))
	fwd.SetDestination(c.Source)
	s.pinLocal(fwd)
	return Status{}
}
