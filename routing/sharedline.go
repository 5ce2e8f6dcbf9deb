package routing

import (
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/events"
	"deskgate/routing/fork"
	"deskgate/routing/ringplan"
	"deskgate/routing/sca"
)

// Shared call appearance (BroadWorks SCA) on department and executive
// lines. The phones of a line's members SUBSCRIBE Event: call-info to the
// line and get a NOTIFY with a Call-Info header listing the appearances
// at every change; before calling out on the line a phone SUBSCRIBEs
// Event: line-seize with the appearance it wants (Call-Info
// appearance-index) and gets it seized, or 480 with Retry-After when it is
// taken. Both subscriptions live in the same table as the other keys
// (resSCA, resSeize); the appearance state lives in routing/sca and is
// driven by the calls we proxy: the INVITE (outgoing on a seize, incoming
// alerting), routing/fork's answer, re-INVITEs of the line's side (hold),
// an INVITE with Replaces from another member (retrieve), BYE and failure
// (idle at once).

// SCA event packages.
const (
	pkgCallInfo  = "call-info"
	pkgLineSeize = "line-seize"
)

// isSCA reports whether pkg is one of the SCA packages.
func isSCA(pkg string) bool { return pkg == pkgCallInfo || pkg == pkgLineSeize }

// scaResource resolves a call-info or line-seize SUBSCRIBE for ruser by
// subscriber: only members of a shared line may watch or seize it (403);
// anything else is 404.
func scaResource(snap *directory.Snapshot, pkg, subscriber, ruser string) resource {
	e, ok := snap.Lookup(ruser)
	if !ok {
		return refuseRes(404, "Not Found")
	}
	ext := ""
	switch {
	case e.Kind == directory.KindDepartment && e.Department != nil:
		ext = e.Department.Extension
	case e.Kind == directory.KindUser && e.User != nil:
		ext = e.User.Extension
	default:
		return refuseRes(404, "Not Found")
	}
	if !snap.OnLine(subscriber, ext) {
		return refuseRes(403, "Not On This Line")
	}
	if pkg == pkgLineSeize {
		return resource{key: resSeize + ext}
	}
	return resource{key: resSCA + ext}
}

// lineURI is the address a line's Call-Info names.
func (s *Server) lineURI(ext string) string { return "sip:" + ext + "@" + s.opts.Domain }

// scaSeize seizes the appearance a line-seize SUBSCRIBE asks for (its
// Call-Info appearance-index, any free one without) for rec.User. It
// returns the refusal when the seize fails, the zero Status when it holds.
func (s *Server) scaSeize(req *sip.Request, rec store.Subscription, expires int) Status {
	ext := strings.TrimPrefix(rec.Resource, resSeize)
	if expires == 0 {
		s.sca.Release(ext, s.sca.Seized(ext, rec.User), rec.User)
		s.notifySCA(ext)
		return Status{}
	}
	index, ok := sca.ParseIndex(headerValue(req, "Call-Info"))
	if !ok {
		return refuse(400, "Bad Appearance Index")
	}
	got, err := s.sca.Seize(ext, index, rec.User, s.now())
	if err != nil {
		// What Kamailio's sca module and the BroadWorks phones agree on:
		// 480 and try again in a second.
		s.log.Info("line seize refused", "user", rec.User, "line", ext, "index", index, "error", err)
		return refuse(480, "Appearance In Use", sip.NewHeader("Retry-After", "1"))
	}
	s.log.Info("line seized", "user", rec.User, "line", ext, "index", got)
	time.AfterFunc(sca.SeizeTTL+50*time.Millisecond, func() {
		if s.ctx.Err() == nil {
			s.scaExpire(s.now())
		}
	})
	s.notifySCA(ext)
	return Status{}
}

// scaExpire releases seizes no INVITE followed by now: idle to every
// watcher, and the seizer's line-seize subscription ends (reason timeout).
func (s *Server) scaExpire(now time.Time) {
	for _, r := range s.sca.Expire(now) {
		s.log.Info("line seize expired", "user", r.Owner, "line", r.Line, "index", r.Index)
		s.endSeizes(r.Line, r.Owner, events.ReasonTimeout)
		s.notifySCA(r.Line)
	}
}

// endSeizes ends user's line-seize subscriptions to line ext.
func (s *Server) endSeizes(ext, user, reason string) {
	for _, rec := range s.subs.Watching(resSeize + ext) {
		if rec.User == user {
			s.subs.End(rec.ID, reason)
		}
	}
}

// notifySCA NOTIFYs every call-info watcher of line ext.
func (s *Server) notifySCA(ext string) {
	if ext == "" {
		return
	}
	s.subs.NotifyResource(resSCA + ext)
}

// scaRender is the Call-Info of an SCA subscription's NOTIFY now, and
// gone when the subscription must end: the subscriber left the line, or a
// seize is no longer held (expired, used by a call, or lost in a restart).
func (s *Server) scaRender(snap *directory.Snapshot, rec store.Subscription) (callInfo, gone string) {
	kind, ext, _ := strings.Cut(rec.Resource, ":")
	if !snap.OnLine(rec.User, ext) {
		return "", events.ReasonRejected
	}
	if kind+":" == resSeize {
		index := s.sca.Seized(ext, rec.User)
		if index == 0 {
			return "", events.ReasonNoResource
		}
		return sca.SeizeInfo(s.lineURI(ext), index), ""
	}
	return sca.CallInfo(s.lineURI(ext), s.sca.Appearances(ext)), ""
}

// addCallInfo puts the Call-Info of an SCA subscription on its NOTIFY.
func (s *Server) addCallInfo(req *sip.Request, rec store.Subscription) {
	if rec.Resource == "" || !(strings.HasPrefix(rec.Resource, resSCA) || strings.HasPrefix(rec.Resource, resSeize)) {
		return
	}
	snap := s.opts.Directory()
	if snap == nil {
		snap = directory.Empty()
	}
	if ci, _ := s.scaRender(snap, rec); ci != "" {
		req.AppendHeader(sip.NewHeader("Call-Info", ci))
	}
}

// scaLineIdentity is the line a seize of user's makes the call go out as
// when the phone presented its own identity: the line's caller ID goes
// with the appearance. ok is false when user holds no seize.
func (s *Server) scaLineIdentity(snap *directory.Snapshot, user string) (identity, bool) {
	for _, ext := range s.sca.Lines() {
		if s.sca.Seized(ext, user) == 0 {
			continue
		}
		if id, ok := callerIdentity(snap, user, ext); ok {
			return id, true
		}
	}
	return identity{}, false
}

// scaIncoming holds incoming calls to a shared line from their INVITE
// until a member's phone rings (they then alert on an appearance) or the
// call ends: a call that rings nobody (nobody available, closed) never
// shows on the line.
type scaIncoming struct {
	mu sync.Mutex
	m  map[string]scaPending
}

// scaPending is what an appearance of an incoming call needs from its
// INVITE.
type scaPending struct {
	line, fromTag, remote string
	peer                  sca.Peer
}

func (p *scaIncoming) add(callID string, c scaPending) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]scaPending{}
	}
	if len(p.m) < maxCalls {
		p.m[callID] = c
	}
}

// take removes and returns a pending call.
func (p *scaIncoming) take(callID string) (scaPending, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.m[callID]
	delete(p.m, callID)
	return c, ok
}

// line returns a pending call's line.
func (p *scaIncoming) line(callID string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.m[callID]
	return c.line, ok
}

// scaCallStart puts a new call on its shared line's appearance: outgoing
// when a member calls as the line (on its seize, whose line-seize
// subscription then ends as Kamailio ends it: noresource); incoming when
// the call is for the line, once a member's phone rings (scaForkEvent).
func (s *Server) scaCallStart(req *sip.Request, call ringplan.Call, rec callRecord) {
	snap := s.opts.Directory()
	if snap == nil {
		return
	}
	id := rec.callID
	fromTag := ""
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	if rec.caller != "" && call.CallerNumber != "" && snap.SharedLine(call.CallerNumber) &&
		snap.OnLine(rec.caller, call.CallerNumber) {
		ext := call.CallerNumber
		seized := s.sca.Seized(ext, rec.caller) != 0
		remote := "<sip:" + call.Target.Number + "@" + s.opts.Domain + ">"
		if i := s.sca.Outgoing(ext, rec.caller, id, fromTag, remote); i != 0 {
			s.log.Info("appearance in use", "line", ext, "index", i, "user", rec.caller, "call_id", id)
			if seized {
				s.endSeizes(ext, rec.caller, events.ReasonNoResource)
			}
			s.notifySCA(ext)
		}
	}
	ext := ""
	switch t := call.Target; {
	case t.Kind == ringplan.TargetDepartment && t.Department != nil:
		ext = t.Department.Extension
	case t.Kind == ringplan.TargetUser && t.User != nil:
		ext = t.User.Extension
	}
	if ext == "" || !snap.SharedLine(ext) || ext == call.CallerNumber {
		return
	}
	remote := "<sip:" + call.CallerNumber + "@" + s.opts.Domain + ">"
	if call.CallerDisplay != "" {
		remote = `"` + call.CallerDisplay + `" ` + remote
	}
	peer := sca.Peer{Trunk: rec.caller == "", Identity: "sip:" + call.CallerNumber + "@" + s.opts.Domain,
		Source: req.Source(), Transport: req.Transport()}
	if ct := req.Contact(); ct != nil {
		peer.URI = ct.Address.String()
	}
	s.scaIn.add(id, scaPending{line: ext, fromTag: fromTag, remote: remote, peer: peer})
}

// scaAlert puts a pending incoming call on an appearance, alerting, when
// user (whose phone rings or answered) is on its line.
func (s *Server) scaAlert(callID, user string) {
	line, ok := s.scaIn.line(callID)
	snap := s.opts.Directory()
	if !ok || snap == nil || !snap.OnLine(user, line) {
		return
	}
	if c, ok := s.scaIn.take(callID); ok && s.sca.Incoming(c.line, callID, c.fromTag, c.remote, c.peer) != 0 {
		s.notifySCA(c.line)
	}
}

// scaCallDone ends what is left of a call's appearance once its INVITE
// transaction is over: a pending incoming call is forgotten, an unanswered
// call is idle at once.
func (s *Server) scaCallDone(callID string, answered bool) {
	s.scaIn.take(callID)
	if !answered {
		s.scaEnded(callID)
	}
}

// scaForkEvent follows a call's branches: an incoming call alerts when a
// member's phone rings; the answer makes the appearance active, with the
// answering side's tag (and, for an outgoing call, where the far side is,
// which a retrieve needs). An incoming call answered by anyone not on the
// line (voicemail after the ring timeout) has left the line: idle.
func (s *Server) scaForkEvent(ev fork.Event) {
	switch ev.Kind {
	case fork.EventRinging:
		s.scaAlert(ev.CallID, ev.Branch.User)
	case fork.EventAnswered:
		s.scaAlert(ev.CallID, ev.Branch.User) // answered without ringing first
		c, ok := s.sca.ByCall(ev.CallID)
		if !ok {
			return
		}
		if snap := s.opts.Directory(); !c.Outgoing && (snap == nil || !snap.OnLine(ev.Branch.User, c.Line)) {
			s.scaEnded(ev.CallID)
			return
		}
		b := ev.Branch.Contact
		peer := sca.Peer{URI: b.URI, Source: b.Source, Transport: b.Transport}
		s.notifySCA(s.sca.Answered(ev.CallID, ev.Branch.User, ev.ToTag, peer))
	}
}

// scaEnded frees the appearance of a call that ended (BYE, or an INVITE
// that failed): idle at once.
func (s *Server) scaEnded(callID string) { s.notifySCA(s.sca.Ended(callID)) }

// scaInDialog follows in-dialog requests: BYE ends the call's appearance;
// a re-INVITE of the line's side holds (sendonly: held, inactive:
// held-private) or resumes it.
func (s *Server) scaInDialog(req *sip.Request) {
	switch req.Method {
	case sip.BYE:
		s.scaEnded(callID(req))
	case sip.INVITE:
		if len(req.Body()) == 0 {
			return
		}
		fromTag := ""
		if f := req.From(); f != nil {
			fromTag, _ = f.Params.Get("tag")
		}
		s.notifySCA(s.sca.Hold(callID(req), fromTag, sca.Direction(req.Body())))
	}
}

// scaAck completes a retrieve: the ACK of the 2xx to the INVITE with
// Replaces moves the appearance to the new call.
func (s *Server) scaAck(req *sip.Request) {
	if req.Method != sip.ACK {
		return
	}
	var fromTag, toTag string
	if f := req.From(); f != nil {
		fromTag, _ = f.Params.Get("tag")
	}
	if t := req.To(); t != nil {
		toTag, _ = t.Params.Get("tag")
	}
	s.notifySCA(s.sca.Retrieved(callID(req), fromTag, toTag))
}

// retrieveCall returns the held or active shared-line call a Replaces
// header names (its Call-ID and both tags, in either order).
func (s *Server) retrieveCall(req *sip.Request) (sca.Call, bool) {
	h := req.GetHeader("Replaces")
	if h == nil {
		return sca.Call{}, false
	}
	id, params, _ := strings.Cut(strings.TrimSpace(h.Value()), ";")
	c, ok := s.sca.ByCall(strings.TrimSpace(id))
	if !ok || c.LineTag == "" || c.RemoteTag == "" {
		return sca.Call{}, false
	}
	tags := map[string]bool{}
	for _, p := range strings.Split(params, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "from-tag") || strings.EqualFold(k, "to-tag") {
			tags[v] = true
		}
	}
	return c, tags[c.LineTag] && tags[c.RemoteTag]
}

// handleRetrieve takes a call on a shared line over from another member's
// phone: the INVITE with Replaces goes to the far party, which replaces
// its dialog with the held phone by this one (RFC 3891) and hangs up the
// old one. Only members of the line may retrieve, and a held-private call
// only its owner.
func (s *Server) handleRetrieve(req *sip.Request, tx sip.ServerTransaction, snap *directory.Snapshot, user string, c sca.Call) Status {
	if !snap.OnLine(user, c.Line) || (c.State == sca.HeldPrivate && c.Owner != user) {
		s.log.Warn("retrieve refused", "user", user, "line", c.Line, "call_id", c.CallID)
		return refuse(403, "Retrieve Not Allowed")
	}
	fwd := req.Clone()
	fwd.SetDestination("")
	takeRoutes(fwd)
	s.auth.Strip(fwd)
	removeHeaders(fwd, "P-Asserted-Identity")
	removeHeaders(fwd, "P-Preferred-Identity")
	removeHeaders(fwd, "Replaces")
	// Written as the far party sees the dialog: its own tag is to-tag.
	fwd.AppendHeader(sip.NewHeader("Replaces", c.CallID+";to-tag="+c.RemoteTag+";from-tag="+c.LineTag))
	held := lineCall{fromTrunk: c.Peer.Trunk, caller: events.Participant{Identity: c.Peer.Identity, Target: c.Peer.URI},
		callerSource: c.Peer.Source, callerTransport: c.Peer.Transport}
	if st := s.aimCaller(fwd, held); st.Code != 0 {
		return st
	}
	if !decMaxForwards(fwd) {
		return refuse(483, "Too Many Hops")
	}
	if !s.sca.StartRetrieve(c.CallID, callID(req), user) {
		return refuse(481, "Call Does Not Exist")
	}
	far := flowPeer("", c.Peer.Source, c.Peer.Transport) // the held call's far party
	if c.Peer.Trunk {
		far = peer{kind: peerTrunk}
	}
	s.addRecordRoute(fwd, req.Transport(), callerPeer(req, origin{caller: user}), far)
	s.log.Info("retrieve", "user", user, "line", c.Line, "index", c.Index, "call_id", c.CallID,
		"retrieve_call_id", callID(req))
	return s.relay(req, tx, fwd)
}
