package routing

import (
	"cmp"
	"net/netip"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/store"
)

// dialog peers the unit tests use: alice's phone calls bob's phone.
var (
	alicePeer = peer{kind: peerUser, user: "alice", flow: netip.MustParseAddrPort("192.0.2.10:5062")}
	bobPeer   = peer{kind: peerUser, user: "bob", flow: netip.MustParseAddrPort("192.0.2.20:5060")}
	trunkPeer = peer{kind: peerTrunk}
)

// testToken mints the token of dialog fz-1@192.0.2.10 (caller's tag a1).
func testToken(s *Server, caller, callee peer, issued time.Time) string {
	return s.mintToken("fz-1@192.0.2.10", "a1", dialogToken{issued: issued, caller: caller, callee: callee})
}

// withTestTrunk: a trunk at 192.0.2.200:5060, trusted.
func withTestTrunk(o *Options) {
	o.Trunk = TrunkOptions{Address: "192.0.2.200:5060", Trusted: []netip.Prefix{mustPrefix("192.0.2.200/32")}}
}

func TestNextHop(t *testing.T) {
	s := testServer(t, withTestTrunk)
	now := s.now()
	if _, err := s.bindings.Update("bob", []store.Binding{{User: "bob", Contact: "sip:1002@10.0.0.5:5060",
		Source: "203.0.113.9:40000", Transport: "UDP", Expires: now.Add(time.Hour), Updated: now}}, now); err != nil {
		t.Fatal(err)
	}
	phones := testToken(s, alicePeer, bobPeer, now)
	ours := "<sip:127.0.0.1:5060;transport=udp;lr;dg=TOKEN>"
	plain := "<sip:127.0.0.1:5060;transport=udp;lr>"
	type msg struct {
		ruri, routes, from, to, callID, extra, source string
		maxFwd                                        string
	}
	build := func(m msg, tok string) string {
		text := byeText
		set := func(old, new string) {
			if new != "" {
				text = strings.Replace(text, old, new, 1)
			}
		}
		if m.ruri != "" {
			set("BYE sip:1002@192.0.2.20:5060", "BYE "+m.ruri)
		}
		set("Route: <sip:127.0.0.1:5060;transport=udp;lr>, <sip:127.0.0.1:5060;transport=udp;lr;dg=TOKEN>\n", m.routes)
		if m.from != "" {
			set("<sip:1001@test.example>;tag=a1", "<sip:1001@test.example>"+m.from)
		}
		if m.to != "" {
			set("<sip:1002@test.example>;tag=b2", "<sip:1002@test.example>"+m.to)
		}
		set("Call-ID: fz-1@192.0.2.10", m.callID)
		set("Max-Forwards: 70\n", m.maxFwd)
		set("CSeq: 2 BYE\n", "CSeq: 2 BYE\n"+m.extra)
		return strings.ReplaceAll(text, "TOKEN", tok)
	}
	tests := []struct {
		name     string
		tok      string
		m        msg
		wantCode int
		wantDest string
		wantTP   string
		wantRURI string
		wantMF   string
		wantRt   int  // Route headers left
		wantID   bool // identity headers kept
	}{
		{name: "loose route to phone", m: msg{ruri: "sip:1002@192.0.2.20:5062", routes: "Route: " + ours + "\n"},
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantRURI: "sip:1002@192.0.2.20:5062", wantMF: "69"}, // the flow, not the URI's port
		{name: "double record-route", m: msg{ruri: "sip:1002@192.0.2.20;transport=tcp", routes: "Route: " + plain + ", " + ours + "\n"},
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantMF: "69"},
		{name: "callee's registration", m: msg{ruri: "sip:1002@10.0.0.5:5060"},
			wantDest: "203.0.113.9:40000", wantTP: "UDP", wantMF: "69"},
		{name: "from the callee's side", m: msg{ruri: "sip:1001@192.0.2.10:5062", from: ";tag=b2", to: ";tag=a1", source: "192.0.2.20:5060"},
			wantDest: "192.0.2.10:5062", wantTP: "UDP", wantMF: "69"},
		{name: "callee's side from a registered address", m: msg{ruri: "sip:1001@192.0.2.10:5062", from: ";tag=b2", to: ";tag=a1", source: "203.0.113.9:40000"},
			wantDest: "192.0.2.10:5062", wantTP: "UDP", wantMF: "69"},
		{name: "strict router", m: msg{ruri: "sip:127.0.0.1:5060;transport=udp;lr;dg=TOKEN", routes: "Route: <sip:1002@192.0.2.20:5062>\n"},
			wantDest: "192.0.2.20:5060", wantRURI: "sip:1002@192.0.2.20:5062", wantTP: "UDP", wantMF: "69"},
		{name: "max-forwards absent", m: msg{ruri: "sip:1002@192.0.2.20", maxFwd: "X-Nothing: 1\n"},
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantMF: "70"},
		{name: "foreign request-uri goes to the dialog's peer", m: msg{ruri: "sip:+19005551212@192.0.2.77:5060"},
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantRURI: "sip:+19005551212@192.0.2.77:5060", wantMF: "69"},
		{name: "request-uri of the trunk in a phones' dialog", m: msg{ruri: "sip:+19005551212@192.0.2.200:5060"},
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantMF: "69"},
		{name: "identity headers of a phone removed",
			m:        msg{extra: "P-Asserted-Identity: <sip:ceo@test.example>\nP-Preferred-Identity: <sip:ceo@test.example>\nRemote-Party-ID: <sip:ceo@test.example>;party=calling\n"},
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantMF: "69"},
		{name: "trunk's identity kept", tok: testToken(s, trunkPeer, bobPeer, now),
			m:        msg{source: "192.0.2.200:5060", extra: "P-Asserted-Identity: <sip:+15550001111@carrier.example>\n"},
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantMF: "69", wantID: true},
		{name: "phone to trunk goes to the trunk's address", tok: testToken(s, alicePeer, trunkPeer, now),
			m:        msg{ruri: "sip:+19005551212@192.0.2.77:5060", extra: "P-Asserted-Identity: <sip:ceo@test.example>\n"},
			wantDest: "192.0.2.200:5060", wantTP: "UDP", wantMF: "69"},
		{name: "phone to trunk, trunk's own contact", tok: testToken(s, alicePeer, trunkPeer, now),
			m:        msg{ruri: "sip:+19005551212@192.0.2.200:5070"},
			wantDest: "192.0.2.200:5070", wantTP: "UDP", wantMF: "69"},
		{name: "next route is another proxy", m: msg{ruri: "sip:1002@192.0.2.20", routes: "Route: " + ours + ", <sip:192.0.2.50:5080;lr>\n"},
			wantCode: 403},
		{name: "unsigned route", m: msg{routes: "Route: " + plain + "\n"}, wantCode: 403},
		{name: "wrong token", tok: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", wantCode: 403},
		{name: "two different tokens", m: msg{routes: "Route: " + ours + ", " + strings.Replace(ours, "TOKEN", testToken(s, bobPeer, alicePeer, now), 1) + "\n"},
			wantCode: 403},
		{name: "token of another call", m: msg{callID: "Call-ID: other"}, wantCode: 403},
		{name: "tags of another dialog", m: msg{from: ";tag=x1", to: ";tag=y2"}, wantCode: 403},
		{name: "sender is no party", m: msg{source: "192.0.2.66:5060"}, wantCode: 403},
		{name: "callee's side from elsewhere", m: msg{from: ";tag=b2", to: ";tag=a1", source: "192.0.2.66:5060"}, wantCode: 403},
		{name: "trunk side not from the trunk", tok: testToken(s, trunkPeer, bobPeer, now), wantCode: 403},
		{name: "expired", tok: testToken(s, alicePeer, bobPeer, now.Add(-tokenLifetime-time.Minute)), wantCode: 481},
		{name: "issued in the future", tok: testToken(s, alicePeer, bobPeer, now.Add(time.Hour)), wantCode: 481},
		{name: "within the lifetime", tok: testToken(s, alicePeer, bobPeer, now.Add(-tokenLifetime+time.Minute)),
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantMF: "69"},
		{name: "tcp flow without its connection", tok: testToken(s, alicePeer, peer{kind: peerUser, user: "carol",
			flow: netip.MustParseAddrPort("192.0.2.30:40000"), tcp: true}, now), wantCode: 430},
		{name: "to a fallback host by name", tok: testToken(s, alicePeer, flowPeer("", "voicemail.example.test:5070", "udp"), now),
			m: msg{ruri: "sip:vm-1002@192.0.2.77"}, wantDest: "voicemail.example.test:5070", wantTP: "UDP", wantMF: "69"},
		{name: "from a fallback host by name", tok: testToken(s, alicePeer, flowPeer("", "localhost:5070", "tcp"), now),
			m:        msg{ruri: "sip:1001@192.0.2.10:5062", from: ";tag=b2", to: ";tag=a1", source: "127.0.0.1:5070"},
			wantDest: "192.0.2.10:5062", wantTP: "UDP", wantMF: "69"},
		{name: "not from the fallback host", tok: testToken(s, alicePeer, flowPeer("", "localhost:5070", "tcp"), now),
			m: msg{from: ";tag=b2", to: ";tag=a1", source: "192.0.2.66:5070"}, wantCode: 403},
		{name: "no route", m: msg{routes: "X-Nothing: 1\n"}, wantCode: 481},
		{name: "route to someone else", m: msg{routes: "Route: <sip:192.0.2.50;lr>\n"}, wantCode: 481},
		{name: "back to us", tok: testToken(s, alicePeer, peer{kind: peerFlow, flow: netip.MustParseAddrPort("127.0.0.1:5060")}, now),
			m: msg{ruri: "sip:test.example"}, wantCode: 482},
		{name: "hops exhausted", m: msg{maxFwd: "Max-Forwards: 0\n"}, wantCode: 483},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := cmp.Or(tc.tok, phones)
			req := parseReq(t, build(tc.m, tok))
			if tc.m.source != "" {
				req.SetSource(tc.m.source)
			}
			hop := s.nextHop(req)
			if hop.st.Code != tc.wantCode {
				t.Fatalf("code %d %s, want %d", hop.st.Code, hop.st.Reason, tc.wantCode)
			}
			if tc.wantCode != 0 {
				return
			}
			f := hop.fwd
			if f.Destination() != tc.wantDest || f.Transport() != tc.wantTP {
				t.Errorf("to %s over %s, want %s over %s", f.Destination(), f.Transport(), tc.wantDest, tc.wantTP)
			}
			if tc.wantRURI != "" && f.Recipient.String() != tc.wantRURI {
				t.Errorf("Request-URI %s, want %s", f.Recipient.String(), tc.wantRURI)
			}
			if got := f.MaxForwards().Value(); got != tc.wantMF {
				t.Errorf("Max-Forwards %s, want %s", got, tc.wantMF)
			}
			if n := len(f.GetHeaders("Route")); n != tc.wantRt {
				t.Errorf("%d Route headers left, want %d", n, tc.wantRt)
			}
			if tc.wantTP == "UDP" && f.Laddr.Port != 5060 {
				t.Errorf("UDP request not pinned to the listener: %v", f.Laddr)
			}
			for _, h := range identityHeaders {
				if n := len(req.GetHeaders(h)); tc.wantID && len(f.GetHeaders(h)) != n || !tc.wantID && len(f.GetHeaders(h)) != 0 {
					t.Errorf("%s: %v forwarded, want kept=%v", h, f.GetHeaders(h), tc.wantID)
				}
			}
		})
	}
}

// TestDialogToken: a token opens only for its Call-ID and tag, records
// both peers, and a new process (a restart) on the same store accepts it:
// the key comes from the store.
func TestDialogToken(t *testing.T) {
	s := testServer(t)
	long := peer{kind: peerUser, user: strings.Repeat("u", maxTokenUser), flow: netip.MustParseAddrPort("[fe80::1%enp0s31f6]:5060"), tcp: true}
	in := dialogToken{issued: s.now(), caller: long, callee: long}
	tok := s.mintToken("c1", "t1", in)
	again, err := routeKey(s.opts.Store)
	if err != nil {
		t.Fatal(err)
	}
	s2 := &Server{routeKey: again}
	got, ok := s2.openToken(tok, "c1", "t1")
	if !ok || !got.issued.Equal(in.issued) || got.caller != long || got.callee != long {
		t.Errorf("reopened %+v %v, want %+v", got, ok, in)
	}
	if _, ok := s.openToken(tok, "c2", "t1"); ok {
		t.Error("token opened for another Call-ID")
	}
	if _, ok := s.openToken(tok, "c1", "t2"); ok {
		t.Error("token opened for another tag")
	}
	if p := flowPeer(long.user+"u", "192.0.2.1:5060", "udp"); p.kind != peerFlow || p.user != "" {
		t.Errorf("over-long user id kept: %+v", p)
	}
	host := flowPeer("", "voicemail.example.test:5070", "TCP")
	if want := (peer{kind: peerHost, host: "voicemail.example.test", port: 5070, tcp: true}); host != want {
		t.Errorf("peer of a host name: %+v, want %+v", host, want)
	}
	if got, ok := s.openToken(s.mintToken("c1", "t1", dialogToken{issued: in.issued, caller: host, callee: trunkPeer}), "c1", "t1"); !ok || got.caller != host {
		t.Errorf("host peer reopened as %+v %v", got, ok)
	}
	for i := range len(tok) {
		if _, ok := s.openToken(tok[:i], "c1", "t1"); ok {
			t.Fatalf("truncated token %q opened", tok[:i])
		}
	}
}

func TestSendTo(t *testing.T) {
	tests := []struct {
		name, contact, source, transport string
		wantDest, wantTP                 string
	}{
		{"lan phone", "sip:1001@192.0.2.10:5062", "192.0.2.10:5062", "UDP", "192.0.2.10:5062", "udp"},
		{"other process on the same host", "sip:1001@192.0.2.10:6000", "192.0.2.10:41000", "UDP", "192.0.2.10:6000", "udp"},
		{"default port", "sip:1001@192.0.2.10", "192.0.2.10:41000", "UDP", "192.0.2.10:5060", "udp"},
		{"nat", "sip:1001@10.0.0.5:5060", "203.0.113.9:40000", "UDP", "203.0.113.9:40000", "udp"},
		{"hostname contact", "sip:1001@phone.local", "192.0.2.10:5060", "UDP", "192.0.2.10:5060", "udp"},
		{"tcp uses the connection", "sip:1001@192.0.2.10:5060;transport=tcp", "192.0.2.10:51234", "TCP", "192.0.2.10:51234", "tcp"},
		{"transport param wins", "sip:1001@192.0.2.10:5060;transport=TCP", "192.0.2.10:51234", "UDP", "192.0.2.10:51234", "tcp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := contactOf(store.Binding{User: "alice", Contact: tc.contact, Source: tc.source, Transport: tc.transport})
			if c.Source != tc.wantDest || c.Transport != tc.wantTP {
				t.Errorf("send to %s over %s, want %s over %s", c.Source, c.Transport, tc.wantDest, tc.wantTP)
			}
		})
	}
}

func TestCallTable(t *testing.T) {
	c := newCallTable()
	c.start("a", "1001", "1002", t0)
	c.start("b", "1002", "1001", t0.Add(1))
	c.finish("a", true, t0.Add(2))
	c.finish("b", false, t0.Add(2))
	if l := c.list(); len(l) != 1 || l[0].CallID != "a" || l[0].State != CallAnswered {
		t.Fatalf("list = %+v", l)
	}
	c.sweep(t0.Add(answeredTTL))
	if c.count() != 1 {
		t.Error("swept too early")
	}
	c.sweep(t0.Add(answeredTTL + time.Minute))
	if c.count() != 0 {
		t.Error("stale answered call kept")
	}
	c.start("c", "", "", t0)
	c.end("c")
	if c.count() != 0 {
		t.Error("BYE did not end the call")
	}
}

// TestTrunkSideWithoutTrusted: with an outbound-only trunk (no
// trunk.trusted) the trunk's in-dialog requests are still recognised by
// its address; anyone else is refused.
func TestTrunkSideWithoutTrusted(t *testing.T) {
	s := testServer(t, func(o *Options) { o.Trunk = TrunkOptions{Address: "192.0.2.200:5060"} })
	tok := testToken(s, alicePeer, trunkPeer, s.now())
	// From the trunk's side: To tag is the caller's.
	text := strings.ReplaceAll(strings.Replace(strings.Replace(byeText, "<sip:1001@test.example>;tag=a1", "<sip:1001@test.example>;tag=t9", 1),
		"<sip:1002@test.example>;tag=b2", "<sip:1002@test.example>;tag=a1", 1), "TOKEN", tok)
	for _, tc := range []struct {
		source   string
		wantCode int
	}{{"192.0.2.200:5060", 0}, {"192.0.2.201:5060", 403}} {
		req := parseReq(t, text)
		req.SetSource(tc.source)
		hop := s.nextHop(req)
		if hop.st.Code != tc.wantCode {
			t.Errorf("from %s: %d %s, want %d", tc.source, hop.st.Code, hop.st.Reason, tc.wantCode)
		}
		if hop.st.Code == 0 && hop.fwd.Destination() != "192.0.2.10:5062" {
			t.Errorf("from %s: sent to %s, want alice's flow", tc.source, hop.fwd.Destination())
		}
	}
	// A trunk configured by name: its addresses are looked up (here from
	// the hosts file) and cached.
	var a hostAddrs
	if !a.has(t.Context(), "localhost", netip.MustParseAddr("127.0.0.1"), s.now()) || a.has(t.Context(), "localhost", netip.MustParseAddr("192.0.2.1"), s.now()) {
		t.Errorf("addresses of localhost: %v", a.m)
	}
}

// FuzzOpenToken: whatever arrives in a Route's dg parameter, opening it
// never panics, and only tokens we minted open.
func FuzzOpenToken(f *testing.F) {
	s := testServer(f)
	f.Add(testToken(s, alicePeer, bobPeer, s.now()))
	f.Add(testToken(s, trunkPeer, peer{kind: peerFlow, flow: netip.MustParseAddrPort("[::1]:5060"), tcp: true}, s.now()))
	f.Add(testToken(s, flowPeer("", "voicemail.example.test:5060", "udp"), bobPeer, s.now()))
	f.Add("AAAAAAAAAAAAAAAAAAAAAA")
	f.Fuzz(func(t *testing.T, tok string) {
		d, ok := s.openToken(tok, "fz-1@192.0.2.10", "a1")
		if !ok {
			return
		}
		if again := s.mintToken("fz-1@192.0.2.10", "a1", d); again != tok {
			t.Fatalf("opened %q, which is not what we mint for its content (%q)", tok, again)
		}
	})
}
