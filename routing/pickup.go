package routing

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// Directed pickup. A BLF key on a ringing line gets, in the dialog-info of
// the line's insiders, the ringing call's Call-ID and tags; pressing it
// makes the phone send an INVITE with Replaces naming that call
// (Yealink account.N.dialoginfo_callpickup, Poly
// call.directedCallPickupMethod="native"). deskgate is a proxy, not a
// B2BUA: only the caller's UA holds the early dialog it can replace
// (RFC 3891 §3: a UA accepts Replaces of an early dialog only as its UAC),
// so the pickup INVITE is routed to the caller, with Replaces written from
// the caller's side (to-tag = its own tag, from-tag = the tag of the branch
// it heard ringing, early-only). The caller's phone answers the picker and
// CANCELs its first INVITE, which stops every branch. Callers that do not
// support Replaces (most trunks) refuse it and the pickup fails with their
// answer; the line keeps ringing.

// pickupCall returns the ringing call a Replaces header names, if any.
func (s *Server) pickupCall(req *sip.Request) (lineCall, bool) {
	h := req.GetHeader("Replaces")
	if h == nil {
		return lineCall{}, false
	}
	id, params, _ := strings.Cut(strings.TrimSpace(h.Value()), ";")
	c, ok := s.lines.ringingCall(strings.TrimSpace(id))
	if !ok {
		return lineCall{}, false
	}
	// The picker may write the tags from the callee's side or the caller's:
	// one of them must be the caller's.
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if (strings.EqualFold(k, "from-tag") || strings.EqualFold(k, "to-tag")) && v == c.fromTag {
			return c, true
		}
	}
	return lineCall{}, false
}

// handlePickup authorises and routes a directed pickup of call c by the
// authenticated user picker: the line's own user, an active assistant of
// that user or an operator of that department (lineInsider); anyone else
// gets 403.
func (s *Server) handlePickup(req *sip.Request, tx sip.ServerTransaction, snap *directory.Snapshot, picker string, c lineCall) Status {
	if c.targetExt == "" || !lineInsider(snap, picker, c.targetExt) {
		s.log.Warn("pickup refused", "user", picker, "line", c.targetExt, "call_id", c.callID)
		return refuse(403, "Pickup Not Allowed")
	}
	fwd := req.Clone()
	fwd.SetDestination("")
	takeRoutes(fwd) // ours (an outbound proxy setting); anything else is not honoured
	s.auth.Strip(fwd)
	removeHeaders(fwd, "P-Asserted-Identity")
	removeHeaders(fwd, "P-Preferred-Identity")
	removeHeaders(fwd, "Replaces")
	fwd.AppendHeader(sip.NewHeader("Replaces", c.callID+";to-tag="+c.fromTag+";from-tag="+c.toTag+";early-only"))
	if st := s.aimCaller(fwd, c); st.Code != 0 {
		return st
	}
	if !decMaxForwards(fwd) {
		return refuse(483, "Too Many Hops")
	}
	callee := flowPeer("", c.callerSource, c.callerTransport) // the caller of the picked-up call
	if c.fromTrunk {
		callee = peer{kind: peerTrunk}
	}
	s.addRecordRoute(fwd, req.Transport(), callerPeer(req, origin{caller: picker}), callee)
	s.log.Info("pickup", "user", picker, "line", c.targetExt, "call_id", c.callID, "pickup_call_id", callID(req))
	return s.relay(req, tx, fwd)
}

// aimCaller points a request at the UA that placed call c: the trunk, or
// the phone at its Contact, reached the way its INVITE came.
func (s *Server) aimCaller(fwd *sip.Request, c lineCall) Status {
	if c.fromTrunk {
		addr, transport, ok := s.trunkTarget()
		if !ok {
			return refuse(480, "Temporarily Unavailable")
		}
		host, port, err := splitHostPort(addr)
		if err != nil {
			return refuse(500, "Trunk Misconfigured")
		}
		u := sip.Uri{Scheme: "sip", User: strings.TrimPrefix(c.caller.Identity, "sip:"), Host: host, Port: port}
		u.User, _, _ = strings.Cut(u.User, "@")
		fwd.Recipient = u
		fwd.SetTransport(strings.ToUpper(transport))
		fwd.SetDestination(hostPortString(host, port))
		s.pinLocal(fwd)
		return Status{}
	}
	if c.caller.Target == "" {
		return refuse(480, "Temporarily Unavailable")
	}
	return s.aimBinding(fwd, store.Binding{Contact: c.caller.Target, Source: c.callerSource, Transport: c.callerTransport})
}
