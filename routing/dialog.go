package routing

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
	"deskgate/routing/fork"
)

// Dialog routing keeps no per-call memory: the Record-Route we put on
// dialog-creating requests carries a signed dialog token (dialogtoken.go)
// naming both sides' peers, and an in-dialog request is routed only when
// its Route names us with a valid token, it carries the dialog's tag, it
// comes from the peer of its side, and then only to the peer of the other
// side: never where its Request-URI alone points. Since the key lives in
// the store, calls set up before a restart can still be hung up after it.

// routeParam is the Record-Route URI parameter holding the dialog token.
const routeParam = "dg"

// routeKeyUser is the store credential that holds the route key. A ':' can
// never appear in a directory user id, so it cannot clash with a user.
const routeKeyUser = "deskgate:route-key"

// routeKey loads (creating on first start) the persistent route key. A
// schema-1 store's key (kept as routeKeyUser's password) was migrated to
// this secret.
func routeKey(db *store.DB) ([]byte, error) {
	key, err := db.Secret("route-key", 32)
	if err != nil {
		return nil, fmt.Errorf("route key: %w", err)
	}
	return key, nil
}

// callerPeer is the side that sent a dialog-creating request: the trunk,
// or the authenticated user's phone and the flow the request came on.
func callerPeer(req *sip.Request, org origin) peer {
	if org.fromTrunk {
		return peer{kind: peerTrunk}
	}
	return flowPeer(org.caller, req.Source(), req.Transport())
}

// signDialog mints the token of the dialog req creates between caller and
// callee.
func (s *Server) signDialog(req *sip.Request, caller, callee peer) string {
	return s.mintToken(callID(req), fromTag(req), dialogToken{issued: s.now(), caller: caller, callee: callee})
}

// legRecordRoute is the fork hook that signs each leg of a call with the
// peer it goes to: the trunk, or the branch user's phone and its flow.
func (s *Server) legRecordRoute(req *sip.Request, caller peer) fork.RecordRoute {
	return func(l fork.Leg) []*sip.RecordRouteHeader {
		callee := flowPeer(l.Branch.User, l.Dest, l.Transport)
		if l.Trunk {
			callee = peer{kind: peerTrunk}
		}
		return s.recordRoutes(req.Transport(), l.Transport, s.signDialog(req, caller, callee))
	}
}

// recordRoute builds our Record-Route entry for a transport ("udp"/"tcp").
func (s *Server) recordRoute(transport, tok string) (*sip.RecordRouteHeader, bool) {
	network := strings.ToLower(transport)
	host, port, ok := s.me.hostPort(network)
	if !ok {
		return nil, false
	}
	u := sip.Uri{Scheme: "sip", Host: strings.Trim(host, "[]"), Port: port}
	if strings.HasPrefix(host, "[") {
		u.Host = host
	}
	u.UriParams = sip.NewParams()
	u.UriParams.Add("transport", network)
	u.UriParams.Add("lr", "")
	u.UriParams.Add(routeParam, tok)
	return &sip.RecordRouteHeader{Address: u}, true
}

// recordRoutes is our Record-Route for a request arriving over
// inTransport and leaving over outTransport, top (callee's side) first:
// one entry and, when the transports differ, one for each (RFC 5658
// double Record-Route), so each side reaches us the way it can.
func (s *Server) recordRoutes(inTransport, outTransport, tok string) []*sip.RecordRouteHeader {
	var out []*sip.RecordRouteHeader
	in, ok := s.recordRoute(inTransport, tok)
	if !ok {
		in, ok = s.recordRoute("udp", tok)
	}
	if !strings.EqualFold(inTransport, outTransport) {
		if o, ok := s.recordRoute(outTransport, tok); ok {
			out = append(out, o)
		}
	}
	if ok {
		out = append(out, in)
	}
	return out
}

// addRecordRoute puts our signed Record-Route on a dialog-creating request
// that is forwarded as it is (not forked): fwd is already aimed.
func (s *Server) addRecordRoute(fwd *sip.Request, inTransport string, caller, callee peer) {
	hs := s.recordRoutes(inTransport, fwd.Transport(), s.signDialog(fwd, caller, callee))
	for k := len(hs) - 1; k >= 0; k-- {
		fwd.PrependHeader(hs[k])
	}
}

// routes removes and returns every Route header value of a request.
func takeRoutes(req *sip.Request) []*sip.RouteHeader {
	var out []*sip.RouteHeader
	for _, h := range req.GetHeaders("Route") {
		if r, ok := h.(*sip.RouteHeader); ok {
			out = append(out, r.Clone())
		}
	}
	for req.RemoveHeader("Route") {
	}
	return out
}

// putRoutes appends Route headers back in order.
func putRoutes(req *sip.Request, rs []*sip.RouteHeader) {
	for _, r := range rs {
		req.AppendHeader(r)
	}
}

// hasOurRoute reports whether the top Route names us (no token check).
func (s *Server) hasOurRoute(req *sip.Request) bool {
	r := req.Route()
	return r != nil && s.me.isMe(r.Address)
}

// dialogHop is an in-dialog request ready to forward, or why not.
type dialogHop struct {
	fwd *sip.Request
	st  Status // non-zero Code: refuse with this
}

func noHop(code int, reason string) dialogHop { return dialogHop{st: refuse(code, reason)} }

// identityHeaders are asserted-identity headers: only the trunk's are
// passed on inside a dialog (RFC 3325: a phone's are never trusted).
var identityHeaders = []string{"P-Asserted-Identity", "P-Preferred-Identity", "Remote-Party-ID"}

// nextHop prepares an in-dialog request: strict-router repair (RFC 3261
// §16.4), our Route entries popped and their token checked against the
// request's tags and source, identity headers of a phone removed,
// Max-Forwards decremented, destination and transport set from the token's
// peer of the other side.
func (s *Server) nextHop(req *sip.Request) dialogHop {
	fwd := req.Clone()
	fwd.SetDestination("") // Clone froze the old one (docs/libraries.md P1)
	routes := takeRoutes(fwd)
	if s.me.isMe(fwd.Recipient) && fwd.Recipient.UriParams.Has(routeParam) && len(routes) > 0 {
		// A strict router put our Record-Route in the Request-URI.
		last := routes[len(routes)-1]
		routes = append([]*sip.RouteHeader{{Address: *fwd.Recipient.Clone()}}, routes[:len(routes)-1]...)
		fwd.Recipient = *last.Address.Clone()
	}
	popped, tok := 0, ""
	for len(routes) > 0 && s.me.isMe(routes[0].Address) {
		// A phone may add a plain Route to us (its outbound proxy) and
		// a double Record-Route puts two entries: at least one popped
		// entry must carry a token, and every token must be the same.
		if t, ok := routes[0].Address.UriParams.Get(routeParam); ok {
			if tok != "" && t != tok {
				return noHop(403, "Bad Route")
			}
			tok = t
		}
		routes, popped = routes[1:], popped+1
	}
	switch {
	case popped == 0:
		return noHop(481, "Call/Transaction Does Not Exist")
	case tok == "":
		return noHop(403, "Unsigned Route")
	}
	from, to, hop := s.dialogSides(req, tok)
	if hop.st.Code != 0 {
		return hop
	}
	putRoutes(fwd, routes)
	if from.kind != peerTrunk {
		for _, h := range identityHeaders {
			removeHeaders(fwd, h)
		}
	}
	if !decMaxForwards(fwd) {
		return noHop(483, "Too Many Hops")
	}
	if to.kind == peerTrunk {
		hop = s.aimTrunkHop(fwd, routes)
	} else {
		hop = s.aimPeer(fwd, to, routes)
	}
	if hop.st.Code != 0 {
		return hop
	}
	if host, port, err := splitHostPort(fwd.Destination()); err != nil || s.me.isMeHostPort(host, port) {
		return noHop(482, "Loop Detected")
	}
	return dialogHop{fwd: fwd}
}

// dialogSides checks a token against an in-dialog request and returns the
// peer it comes from and the peer it goes to. The token's tag is the From
// tag of a request from the caller's side and the To tag of one from the
// callee's side; the request must come from that side's peer.
func (s *Server) dialogSides(req *sip.Request, tok string) (from, to peer, hop dialogHop) {
	hop = noHop(403, "Bad Route")
	id := callID(req)
	for _, fromCaller := range []bool{true, false} {
		tag := fromTag(req)
		if !fromCaller {
			tag = toTag(req)
		}
		t, ok := s.openToken(tok, id, tag)
		if !ok {
			continue
		}
		if !fresh(t.issued, s.now()) {
			return from, to, noHop(481, "Dialog Expired")
		}
		from, to = t.caller, t.callee
		if !fromCaller {
			from, to = to, from
		}
		if !s.sentBy(req, from) {
			hop = noHop(403, "Not A Dialog Party")
			continue
		}
		return from, to, dialogHop{}
	}
	return peer{}, peer{}, hop
}

// sentBy reports whether req's packet source is peer p: the trunk (a
// trusted source or the trunk's own address), the address of the flow the dialog was made on, or the address
// of one of the user's current registrations.
func (s *Server) sentBy(req *sip.Request, p peer) bool {
	ip, ok := sourceIP(req)
	if !ok {
		return false
	}
	if p.kind == peerTrunk {
		return s.trunkIP(ip)
	}
	if p.flow.IsValid() && p.flow.Addr() == ip {
		return true
	}
	if p.kind == peerHost {
		return s.hosts.has(s.ctx, p.host, ip, s.now())
	}
	if p.kind != peerUser {
		return false
	}
	for _, b := range s.bindings.Get(p.user, s.now()) {
		if ap, err := netip.ParseAddrPort(b.Source); err == nil && ap.Addr().Unmap() == ip {
			return true
		}
	}
	return false
}

// trunkIP reports whether ip is the trunk's: in trunk.trusted or an
// address of trunk.address.
func (s *Server) trunkIP(ip netip.Addr) bool {
	if s.trustedAddr(ip) {
		return true
	}
	addr, _, ok := s.trunkTarget()
	if !ok {
		return false
	}
	host, _, err := splitHostPort(addr)
	return err == nil && s.hosts.has(s.ctx, strings.Trim(host, "[]"), ip, s.now())
}

// aimTrunkHop sends a request of a dialog made with the trunk to the
// trunk: to the next Route or the Request-URI when that is an address of
// the trunk's, else to the configured trunk address.
func (s *Server) aimTrunkHop(fwd *sip.Request, routes []*sip.RouteHeader) dialogHop {
	hop := fwd.Recipient
	if len(routes) > 0 {
		hop = routes[0].Address
	}
	if ip, err := netip.ParseAddr(strings.Trim(hop.Host, "[]")); err == nil && s.trunkIP(ip.Unmap()) {
		s.aim(fwd, hop)
		return dialogHop{}
	}
	addr, transport, ok := s.trunkTarget()
	if !ok {
		return noHop(404, "Not Found")
	}
	host, port, err := splitHostPort(addr)
	if err != nil {
		return noHop(500, "Trunk Misconfigured")
	}
	if port == 0 {
		port = sip.DefaultPort(transport)
	}
	fwd.SetTransport(strings.ToUpper(transport))
	fwd.SetDestination(hostPortString(host, port))
	s.pinLocal(fwd)
	return dialogHop{}
}

// aimPeer sends an in-dialog request to a phone: to the registration of
// that user whose Contact is the Request-URI (the phone's current flow),
// else to the flow the dialog was made on (for UDP: where the phone sent
// from, RFC 3581, or where we sent the INVITE), whatever the Request-URI's
// host or port. A TCP flow is used only while
// its connection is up (RFC 5626 §5.3: 430 Flow Failed otherwise). Phones
// do not Record-Route, so any Route left is refused.
func (s *Server) aimPeer(fwd *sip.Request, p peer, routes []*sip.RouteHeader) dialogHop {
	if len(routes) > 0 {
		return noHop(403, "Route Not Allowed")
	}
	if p.kind == peerUser {
		for _, b := range s.bindings.Get(p.user, s.now()) {
			if !sameContact(b.Contact, fwd.Recipient) {
				continue
			}
			c := contactOf(b)
			if c.Transport == "tcp" && !s.connUp("tcp", c.Source) {
				continue
			}
			fwd.SetTransport(strings.ToUpper(c.Transport))
			fwd.SetDestination(c.Source)
			s.pinLocal(fwd)
			return dialogHop{}
		}
	}
	if p.kind == peerHost {
		// A host we sent the dialog-creating request to by name (a
		// fallback URI's host): sipgo resolves it as it did then.
		fwd.SetTransport(p.transport())
		fwd.SetDestination(hostPortString(p.host, int(p.port)))
		s.pinLocal(fwd)
		return dialogHop{}
	}
	if !p.flow.IsValid() {
		return noHop(404, "Not Found")
	}
	dest := p.flow.String()
	if p.tcp && !s.connUp("tcp", dest) {
		return noHop(430, "Flow Failed")
	}
	fwd.SetTransport(p.transport())
	fwd.SetDestination(dest)
	s.pinLocal(fwd)
	return dialogHop{}
}

func fromTag(req *sip.Request) string {
	if f := req.From(); f != nil {
		t, _ := f.Params.Get("tag")
		return t
	}
	return ""
}

func toTag(req *sip.Request) string {
	if t := req.To(); t != nil {
		v, _ := t.Params.Get("tag")
		return v
	}
	return ""
}

// sameContact reports whether a registered Contact is the URI u (user,
// host and port; parameters aside).
func sameContact(contact string, u sip.Uri) bool {
	var c sip.Uri
	if err := sip.ParseUri(contact, &c); err != nil {
		return false
	}
	return c.User == u.User && strings.EqualFold(strings.Trim(c.Host, "[]"), strings.Trim(u.Host, "[]")) &&
		c.Port == u.Port
}

// connUp reports whether a connection to addr is open on a
// connection-oriented transport.
func (s *Server) connUp(network, addr string) bool {
	if s.ua == nil {
		return false
	}
	_, err := s.ua.TransportLayer().GetConnection(network, addr)
	return err == nil
}

// decMaxForwards replaces Max-Forwards with one less (70 when absent);
// false when it was already 0. A fresh header: clones share it (P2).
func decMaxForwards(req *sip.Request) bool {
	v := uint32(70)
	if mf := req.MaxForwards(); mf != nil {
		if mf.Val() == 0 {
			return false
		}
		v = mf.Val() - 1
	}
	mf := sip.MaxForwardsHeader(v)
	if req.MaxForwards() != nil {
		req.ReplaceHeader(&mf)
	} else {
		req.AppendHeader(&mf)
	}
	return true
}

// aim sets a request's destination and transport from a hop URI and pins
// UDP requests to our listener socket (docs/libraries.md P3, P6).
func (s *Server) aim(req *sip.Request, hop sip.Uri) {
	transport := "UDP"
	if t, ok := hop.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToUpper(t)
	}
	port := hop.Port
	if port == 0 {
		port = 5060
	}
	req.SetTransport(transport)
	req.SetDestination(hostPortString(hop.Host, port))
	s.pinLocal(req)
}

// pinLocal makes a UDP request leave from our listener socket.
func (s *Server) pinLocal(req *sip.Request) {
	if !strings.EqualFold(req.Transport(), "UDP") {
		return
	}
	if a, ok := s.laddr("udp"); ok {
		req.Laddr = a
	}
}

func hostPortString(host string, port int) string {
	if strings.Contains(host, ":") && !strings.HasPrefix(host, "[") {
		host = "[" + host + "]"
	}
	return fmt.Sprintf("%s:%d", host, port)
}
