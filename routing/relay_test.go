package routing

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
	"github.com/icholy/digest"

	"deskgate/daemon/store"
)

// captured records what the server sent downstream; every request is
// answered 200 by the fake transaction layer.
type captured struct {
	mu   sync.Mutex
	reqs []*sip.Request
}

func (c *captured) install(s *Server) {
	s.cli.TxRequester = &siptest.ClientTxRequester{OnRequest: func(req *sip.Request) *sip.Response {
		c.mu.Lock()
		c.reqs = append(c.reqs, req.Clone())
		c.mu.Unlock()
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	}}
}

func (c *captured) all() []*sip.Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*sip.Request(nil), c.reqs...)
}

// signed adds valid digest credentials of user ext to a request sent by
// handleRaw (the nonce is bound to its source address).
func signed(t *testing.T, s *Server, text, ext, user string) []byte {
	t.Helper()
	c, err := s.opts.Store.Credential(user, ext)
	if err != nil {
		t.Fatal(err)
	}
	req := parseReq(t, text)
	nonce := s.auth.Nonce(netip.MustParseAddrPort(rawSource).Addr(), s.now())
	ch := &digest.Challenge{Realm: "test.example", Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}}
	cred, err := digest.Digest(ch, digest.Options{Method: string(req.Method), URI: req.Recipient.String(),
		Username: ext, Password: c.Password, Count: 1, Cnonce: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	h := "Proxy-Authorization: " + cred.String() + "\n"
	return []byte(strings.ReplaceAll(strings.Replace(strings.TrimLeft(text, "\n"), "Content-Length: 0\n", h+"Content-Length: 0\n", 1), "\n", "\r\n"))
}

const subscribeText = `
SUBSCRIBE sip:1002@test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-sub1;rport
Max-Forwards: 70
From: <sip:1001@test.example>;tag=s1
To: <sip:1002@test.example>
Call-ID: sub-1@192.0.2.10
CSeq: 1 SUBSCRIBE
Event: conference
Expires: 600
Contact: <sip:1001@192.0.2.10:5062>
Content-Length: 0

`

// TestSubscribeRecordRoute: an authenticated initial SUBSCRIBE goes to the
// subscribed user's phone with our signed Record-Route, so its NOTIFYs and
// refreshes can be routed by Route alone.
func TestSubscribeRecordRoute(t *testing.T) {
	s := testServer(t)
	var cap captured
	cap.install(s)
	now := s.now()
	if _, err := s.bindings.Update("bob", []store.Binding{{User: "bob", Contact: "sip:1002@192.0.2.20:5064",
		Source: "192.0.2.20:5064", Transport: "UDP", Expires: now.Add(time.Hour), Updated: now}}, now); err != nil {
		t.Fatal(err)
	}
	if got := handleRaw(t, s, signed(t, s, subscribeText, "1001", "alice")); got != "200 OK" {
		t.Fatalf("SUBSCRIBE answered %q", got)
	}
	reqs := cap.all()
	if len(reqs) != 1 {
		t.Fatalf("%d requests sent, want 1", len(reqs))
	}
	f := reqs[0]
	if f.Recipient.String() != "sip:1002@192.0.2.20:5064" || f.Destination() != "192.0.2.20:5064" {
		t.Errorf("sent %s to %s", f.Recipient.String(), f.Destination())
	}
	rr := f.GetHeaders("Record-Route")
	var tok string
	if len(rr) == 1 {
		if h, ok := rr[0].(*sip.RecordRouteHeader); ok {
			tok, _ = h.Address.UriParams.Get(routeParam)
		}
	}
	d, ok := s.openToken(tok, "sub-1@192.0.2.10", "s1")
	wantCaller := peer{kind: peerUser, user: "alice", flow: netip.MustParseAddrPort(rawSource)}
	wantCallee := peer{kind: peerUser, user: "bob", flow: netip.MustParseAddrPort("192.0.2.20:5064")}
	if !ok || d.caller != wantCaller || d.callee != wantCallee {
		t.Errorf("Record-Route %v: token %+v %v, want ours for alice's and bob's phones", rr, d, ok)
	}
	if f.MaxForwards().Val() != 69 || len(f.GetHeaders("Proxy-Authorization")) != 0 {
		t.Errorf("Max-Forwards %d, credentials %v", f.MaxForwards().Val(), f.GetHeaders("Proxy-Authorization"))
	}
	if len(f.GetHeaders("Via")) != 2 {
		t.Errorf("want our Via on top of the phone's: %v", f.GetHeaders("Via"))
	}
	// Unauthenticated (a new transaction: the same branch would be a
	// retransmission, answered the 200 again): challenged, nothing sent.
	unsigned := strings.Replace(subscribeText, "branch=z9hG4bK-sub1", "branch=z9hG4bK-sub2", 1)
	raw := []byte(strings.ReplaceAll(strings.TrimLeft(unsigned, "\n"), "\n", "\r\n"))
	if got := handleRaw(t, s, raw); got != "407 Proxy Authentication Required" || len(cap.all()) != 1 {
		t.Errorf("unauthenticated SUBSCRIBE: %q, %d sent", got, len(cap.all()))
	}
}

// rawSender is the peer handleRaw's requests come from.
var rawSender = peer{kind: peerUser, user: "alice", flow: netip.MustParseAddrPort(rawSource)}

// TestRelayBye: a BYE with our signed Route is relayed and its response
// comes back; one with a forged Route never leaves.
func TestRelayBye(t *testing.T) {
	s := testServer(t)
	var cap captured
	cap.install(s)
	s.calls.start("fz-1@192.0.2.10", "1001", "1002", s.now())
	s.calls.finish("fz-1@192.0.2.10", true, s.now())
	good := strings.ReplaceAll(byeText, "TOKEN", testToken(s, rawSender, bobPeer, s.now()))
	if got := handleRaw(t, s, []byte(strings.ReplaceAll(strings.TrimLeft(good, "\n"), "\n", "\r\n"))); got != "200 OK" {
		t.Fatalf("BYE answered %q", got)
	}
	if n := len(cap.all()); n != 1 {
		t.Fatalf("%d requests relayed, want 1", n)
	}
	if s.calls.count() != 0 {
		t.Error("BYE did not end the call in the calls list")
	}
	forged := strings.ReplaceAll(byeText, "TOKEN", "forged")
	forged = strings.Replace(forged, "branch=z9hG4bK-bye1", "branch=z9hG4bK-bye2", 1) // not a retransmission
	if got := handleRaw(t, s, []byte(strings.ReplaceAll(strings.TrimLeft(forged, "\n"), "\n", "\r\n"))); got != "403 Bad Route" {
		t.Errorf("forged BYE answered %q", got)
	}
	if n := len(cap.all()); n != 1 {
		t.Errorf("forged BYE was relayed")
	}
}

const callText = `
INVITE sip:1002@test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-call1;rport
Max-Forwards: 70
From: <sip:1001@test.example>;tag=c1
To: <sip:1002@test.example>
Call-ID: call-1@192.0.2.10
CSeq: 1 INVITE
Contact: <sip:1001@192.0.2.10:5062>
Content-Length: 0

`

// TestInviteRecordRoute: each branch of a call carries its own token,
// naming the caller's phone and that branch's phone and flow; a TCP branch
// gets a second entry for TCP (RFC 5658).
func TestInviteRecordRoute(t *testing.T) {
	s := testServer(t)
	var cap captured
	cap.install(s)
	now := s.now()
	if _, err := s.bindings.Update("bob", []store.Binding{
		{User: "bob", Contact: "sip:1002@192.0.2.20:5064", Source: "192.0.2.20:5064", Transport: "UDP", Expires: now.Add(time.Hour), Updated: now},
		{User: "bob", Contact: "sip:1002@192.0.2.21:5060;transport=tcp", Source: "192.0.2.21:41000", Transport: "TCP", Expires: now.Add(time.Hour), Updated: now},
	}, now); err != nil {
		t.Fatal(err)
	}
	if got := handleRaw(t, s, signed(t, s, callText, "1001", "alice")); got != "200 OK" {
		t.Fatalf("INVITE answered %q", got)
	}
	want := map[string]peer{
		"192.0.2.20:5064":  {kind: peerUser, user: "bob", flow: netip.MustParseAddrPort("192.0.2.20:5064")},
		"192.0.2.21:41000": {kind: peerUser, user: "bob", flow: netip.MustParseAddrPort("192.0.2.21:41000"), tcp: true},
	}
	var reqs []*sip.Request
	for _, r := range cap.all() {
		if r.Method == sip.INVITE {
			reqs = append(reqs, r)
		}
	}
	if len(reqs) != 2 {
		t.Fatalf("%d branches, want 2", len(reqs))
	}
	for _, f := range reqs {
		rr := f.GetHeaders("Record-Route")
		wantRR := 1
		if f.Transport() == "TCP" {
			wantRR = 2
		}
		if len(rr) != wantRR {
			t.Errorf("branch to %s: %d Record-Route entries, want %d: %v", f.Destination(), len(rr), wantRR, rr)
			continue
		}
		var toks []string
		for _, h := range rr {
			tok, _ := h.(*sip.RecordRouteHeader).Address.UriParams.Get(routeParam)
			toks = append(toks, tok)
		}
		d, ok := s.openToken(toks[0], "call-1@192.0.2.10", "c1")
		if !ok || toks[len(toks)-1] != toks[0] || d.caller != rawSender || d.callee != want[f.Destination()] {
			t.Errorf("branch to %s: token %+v %v, want caller %+v, callee %+v", f.Destination(), d, ok, rawSender, want[f.Destination()])
		}
	}
}
