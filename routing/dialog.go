package routing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
)

// Dialog routing keeps no per-call memory: the Record-Route we put on
// dialog-creating requests carries dg=HMAC(route key, Call-ID), and an
// in-dialog request is routed only when its Route names us with the right
// token. Only requests of a dialog we set up (authenticated or from the
// trunk) can therefore use us as a relay, and since the key lives in the
// store, calls set up before a restart can still be hung up after it.

// routeParam is the Record-Route URI parameter holding the dialog token.
const routeParam = "dg"

// routeKeyUser is the store credential that holds the route key. A ':' can
// never appear in a directory user id, so it cannot clash with a user.
const routeKeyUser = "deskgate:route-key"

// routeKey loads (creating on first start) the persistent route key. A
// schema-1 store's key (kept as routeKeyUser's password) was migrated to
// this secret, so tokens signed before the upgrade stay valid.
func routeKey(db *store.DB) ([]byte, error) {
	key, err := db.Secret("route-key", 32)
	if err != nil {
		return nil, fmt.Errorf("route key: %w", err)
	}
	return key, nil
}

// routeToken is the dialog token for a Call-ID.
func (s *Server) routeToken(callID string) string {
	m := hmac.New(sha256.New, s.routeKey)
	m.Write([]byte(callID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:12])
}

// recordRoute builds our Record-Route entry for a transport ("udp"/"tcp").
func (s *Server) recordRoute(transport, callID string) (*sip.RecordRouteHeader, bool) {
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
	u.UriParams.Add(routeParam, s.routeToken(callID))
	return &sip.RecordRouteHeader{Address: u}, true
}

// addRecordRoute puts our Record-Route on a dialog-creating request before
// it is forwarded: one entry for the transport it arrived on and, when the
// next hop uses another transport, one for that (RFC 5658 double
// Record-Route), so each side reaches us the way it can.
func (s *Server) addRecordRoute(fwd *sip.Request, inTransport, outTransport string) {
	id := callID(fwd)
	in, ok := s.recordRoute(inTransport, id)
	if !ok {
		in, ok = s.recordRoute("udp", id)
	}
	if ok {
		fwd.PrependHeader(in)
	}
	if !strings.EqualFold(inTransport, outTransport) {
		if out, ok := s.recordRoute(outTransport, id); ok {
			fwd.PrependHeader(out)
		}
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
	fwd    *sip.Request
	code   int // non-zero: refuse with this status
	reason string
}

// nextHop prepares an in-dialog request: strict-router repair (RFC 3261
// §16.4), our Route entries popped after checking their token, Max-Forwards
// decremented, destination and transport set from the next Route or the
// Request-URI.
func (s *Server) nextHop(req *sip.Request) dialogHop {
	fwd := req.Clone()
	fwd.SetDestination("") // Clone froze the old one (libs.md P1)
	routes := takeRoutes(fwd)
	if s.me.isMe(fwd.Recipient) && fwd.Recipient.UriParams.Has(routeParam) && len(routes) > 0 {
		// A strict router put our Record-Route in the Request-URI.
		last := routes[len(routes)-1]
		routes = append([]*sip.RouteHeader{{Address: *fwd.Recipient.Clone()}}, routes[:len(routes)-1]...)
		fwd.Recipient = *last.Address.Clone()
	}
	want := s.routeToken(callID(req))
	popped, signed := 0, false
	for len(routes) > 0 && s.me.isMe(routes[0].Address) {
		// routing/fork adds a plain Record-Route for the callee's side
		// (sipgo's): entries without a token are popped, but at least one
		// popped entry must carry the dialog's token, and none a wrong one.
		if tok, ok := routes[0].Address.UriParams.Get(routeParam); ok {
			if !hmac.Equal([]byte(tok), []byte(want)) {
				return dialogHop{code: 403, reason: "Bad Route"}
			}
			signed = true
		}
		routes, popped = routes[1:], popped+1
	}
	switch {
	case popped == 0:
		return dialogHop{code: 481, reason: "Call/Transaction Does Not Exist"}
	case !signed:
		return dialogHop{code: 403, reason: "Unsigned Route"}
	}
	putRoutes(fwd, routes)
	hop := fwd.Recipient
	if len(routes) > 0 {
		hop = routes[0].Address
	}
	if s.me.isMe(hop) {
		return dialogHop{code: 482, reason: "Loop Detected"}
	}
	if !decMaxForwards(fwd) {
		return dialogHop{code: 483, reason: "Too Many Hops"}
	}
	s.aim(fwd, hop)
	return dialogHop{fwd: fwd}
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
// UDP requests to our listener socket (libs.md P3, P6).
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
