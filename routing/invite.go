package routing

import (
	"net/netip"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/routing/events"
	"deskgate/routing/fork"
	"deskgate/routing/ringplan"
)

// origin is who sent a dialog-creating request, once we trust it.
type origin struct {
	caller    string // authenticated user id; "" = from the trunk
	fromTrunk bool
}

// admit decides whether a dialog-creating request may go anywhere: a
// trusted trunk source, or a phone that authenticates (digest, throttled).
// When not, it returns false and the Status to answer with (zero when a
// challenge went out; either way statelessly: flood.go), and it marks an
// admitted request's transaction stateful.
func (s *Server) admit(req *sip.Request, tx sip.ServerTransaction, now time.Time) (origin, Status, bool) {
	if s.trustedSource(req) {
		markAdmitted(tx)
		return origin{fromTrunk: true}, Status{}, true
	}
	user, st, ok := s.authenticate(req, tx, now)
	if !ok {
		return origin{}, st, false
	}
	markAdmitted(tx)
	return origin{caller: user}, Status{}, true
}

// prepareInitial copies an out-of-dialog request for forwarding: our own
// Route entries (a phone's outbound-proxy setting) are removed and any other
// preloaded Route is refused, so nobody can use us to relay to an arbitrary
// hop. The copy is ours to change; the server transaction keeps the
// original (its timers read it concurrently).
func (s *Server) prepareInitial(req *sip.Request) (*sip.Request, bool) {
	fwd := req.Clone()
	fwd.SetDestination("")
	routes := takeRoutes(fwd)
	for len(routes) > 0 && s.me.isMe(routes[0].Address) {
		routes = routes[1:]
	}
	s.auth.Strip(fwd) // our realm's credentials stop here (RFC 3261 §22.3)
	return fwd, len(routes) == 0
}

// handleInvite is the proxy core for INVITEs: admit, classify, feature
// codes, caller ID policy, identity headers, plan, then routing/fork
// executes the plan and blocks until a final response went upstream; the
// call's history is written once it has ended.
func (s *Server) handleInvite(req *sip.Request, tx sip.ServerTransaction) Status {
	if hasToTag(req) {
		return s.handleInDialog(req, tx) // re-INVITE
	}
	now := s.now()
	org, st, ok := s.admit(req, tx, now)
	if !ok {
		return st
	}
	snap := s.opts.Directory()
	if c, ok := s.pickupCall(req); ok && !org.fromTrunk && snap != nil {
		return s.handlePickup(req, tx, snap, org.caller, c) // a BLF key pressed on a ringing line
	}
	if c, ok := s.retrieveCall(req); ok && !org.fromTrunk && snap != nil {
		return s.handleRetrieve(req, tx, snap, org.caller, c) // a held call on a shared line taken over
	}
	fwd, st := s.initialRequest(req, org, snap)
	if st.Code != 0 {
		return st
	}
	if _, _, away := parseAway(req.Recipient.User); away && !org.fromTrunk {
		return s.handleAwayKey(req, snap, org.caller) // an away key was pressed
	}
	target := ringplan.Classify(snap, s.dialled(req, org))
	if target.Kind == ringplan.TargetFeature && !org.fromTrunk {
		return s.handleFeature(req, snap, org.caller, target.Feature)
	}
	call, id, st := s.callOf(req, snap, org, target)
	if st.Code != 0 {
		return st
	}
	if lineID, seized := s.scaLineIdentity(snap, org.caller); seized && !org.fromTrunk && id.onBehalfOf(org.caller) == "" {
		// The phone seized a shared line's appearance but presented its own
		// number: the call goes out as the line.
		id, call.CallerNumber = lineID, lineID.extension()
		if fromDisplay(req) == "" {
			call.CallerDisplay = lineID.name()
		}
	}
	plan := s.plan(snap, call, now)
	if plan.Action == ringplan.ActionTrunk && org.fromTrunk {
		// Belt and braces: ringplan refuses this already (toll fraud).
		plan = ringplan.Plan{Action: ringplan.ActionReject, Status: 404, Reason: "Not Found", Why: "trunk to trunk"}
	}
	if !org.fromTrunk {
		setIdentity(fwd, id, presentedIdentity(req), plan.Action == ringplan.ActionTrunk, s.opts.Domain)
	}
	rec := callRecord{callID: callID(req), start: now, caller: org.caller, onBehalfOf: id.onBehalfOf(org.caller),
		callerPeer: call.CallerNumber, target: target}
	// routing/fork puts our Record-Route on each leg, signed for the
	// caller and that leg's callee, and decrements Max-Forwards.
	s.execute(req, tx, fwd, plan, call, rec, s.legRecordRoute(req, callerPeer(req, org)))
	return Status{}
}

// initialRequest checks an admitted dialog-creating request is for us and
// returns the copy to forward, or the status to refuse it with.
func (s *Server) initialRequest(req *sip.Request, org origin, snap *directory.Snapshot) (*sip.Request, Status) {
	if snap == nil {
		return nil, refuse(503, "Directory Not Loaded")
	}
	if !org.fromTrunk && !s.me.isMe(req.Recipient) {
		return nil, refuse(403, "Relaying Denied")
	}
	fwd, ok := s.prepareInitial(req)
	if !ok {
		return nil, refuse(403, "Route Not Allowed")
	}
	return fwd, Status{}
}

// callOf describes the call for ringplan, enforcing the caller ID policy
// on phones (403 when they present an identity they may not use), and
// returns the identity a phone calls as (zero from the trunk).
func (s *Server) callOf(req *sip.Request, snap *directory.Snapshot, org origin,
	target ringplan.Target) (ringplan.Call, identity, Status) {
	call := ringplan.Call{Target: target, Caller: org.caller, Domain: s.opts.Domain}
	if org.fromTrunk {
		call.CallerDisplay, call.CallerNumber = fromDisplay(req), fromUser(req)
		return call, identity{}, Status{}
	}
	presented := presentedIdentity(req)
	id, ok := callerIdentity(snap, org.caller, presented)
	if !ok {
		s.log.Warn("caller id refused", "user", org.caller, "presented", presented, "call_id", callID(req))
		return call, identity{}, refuse(403, "Caller ID Not Allowed")
	}
	call.CallerDisplay, call.CallerNumber = callerDisplay(req, id), id.extension()
	return call, id, Status{}
}

// dialled is the number a call is for: the Request-URI user, except for a
// trunk that addresses our registration contact (its user is the trunk
// username), where the To user carries the DID.
func (s *Server) dialled(req *sip.Request, org origin) string {
	u := req.Recipient.User
	if org.fromTrunk && s.opts.Trunk.Username != "" && u == s.opts.Trunk.Username {
		if to := req.To(); to != nil {
			return to.Address.User
		}
	}
	return u
}

// plan makes the ring plan; outside numbers without a trunk are 404.
func (s *Server) plan(snap *directory.Snapshot, call ringplan.Call, now time.Time) ringplan.Plan {
	st := &routeState{b: s.bindings, p: s.presence, now: now}
	p := ringplan.Make(snap, st, call, now)
	if p.Action == ringplan.ActionTrunk && s.opts.Trunk.Address == "" {
		return ringplan.Plan{Action: ringplan.ActionReject, Status: 404, Reason: "Not Found",
			Why: p.Why + "; no trunk configured"}
	}
	return p
}

// execute hands the plan to the fork executor, tracks the call and
// records its history once it has ended.
func (s *Server) execute(req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request, plan ringplan.Plan,
	call ringplan.Call, rec callRecord, rr fork.RecordRoute) {
	id := callID(req)
	release, ok := s.admitCall(req, tx, branchCost(plan))
	if !ok {
		return
	}
	defer release()
	s.log.Info("call", "call_id", id, "caller", call.Caller, "target", call.Target.Number, "plan", plan) // formatted only when info is logged
	s.calls.start(id, fromUser(req), req.Recipient.User, s.now())
	s.notifyLines(s.lines.start(s.lineCallOf(req, call, rec), s.now()))
	s.scaCallStart(req, call, rec)
	out, err := s.fork.Execute(s.ctx, fwd, tx, plan, rr)
	if err != nil {
		s.log.Error("call failed", "call_id", id, "error", err)
	}
	s.calls.finish(id, out.Result == fork.ResultAnswered, s.now())
	if out.Result != fork.ResultAnswered {
		s.notifyLines(s.lines.end(id, endEvent(out), s.now()))
	}
	s.scaCallDone(id, out.Result == fork.ResultAnswered)
	s.recordHistory(rec, out)
}

// trustedSource reports whether the request comes from a trunk.trusted
// address (the packet's source, not anything it claims).
func (s *Server) trustedSource(req *sip.Request) bool {
	ip, ok := sourceIP(req)
	return ok && s.trustedAddr(ip)
}

// trustedAddr reports whether ip is in trunk.trusted.
func (s *Server) trustedAddr(ip netip.Addr) bool {
	for _, p := range s.trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// sourceIP is the packet source of a request.
func sourceIP(req *sip.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(req.MessageData.Source())
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().Unmap(), true
}

// lineCallOf describes a call for BLF: the caller's extensions (its own
// and the identity it calls as), the dialled extension, both parties as
// the other side sees them, and the caller's dialog tag and Contact (what
// a directed pickup needs).
func (s *Server) lineCallOf(req *sip.Request, call ringplan.Call, rec callRecord) lineCall {
	c := lineCall{callID: rec.callID, callerSource: req.Source(), callerTransport: req.Transport(),
		fromTrunk: rec.caller == ""}
	if rec.caller != "" {
		if snap := s.opts.Directory(); snap != nil {
			if u, ok := snap.User(rec.caller); ok {
				c.callerExt = append(c.callerExt, u.Extension)
			}
		}
		if n := call.CallerNumber; n != "" && !slices.Contains(c.callerExt, n) {
			c.callerExt = append(c.callerExt, n) // the department or executive it calls as
		}
	}
	switch t := call.Target; {
	case t.Kind == ringplan.TargetUser && t.User != nil:
		c.targetExt = t.User.Extension
	case t.Kind == ringplan.TargetDepartment && t.Department != nil:
		c.targetExt = t.Department.Extension
	}
	c.caller = events.Participant{Identity: "sip:" + call.CallerNumber + "@" + s.opts.Domain, Display: call.CallerDisplay}
	if ct := req.Contact(); ct != nil {
		c.caller.Target = ct.Address.String()
	}
	c.callee = events.Participant{Identity: "sip:" + call.Target.Number + "@" + s.opts.Domain}
	if f := req.From(); f != nil {
		c.fromTag, _ = f.Params.Get("tag")
	}
	return c
}
