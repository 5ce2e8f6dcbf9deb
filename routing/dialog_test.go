package routing

import (
	"strings"
	"testing"
	"time"

	"deskgate/daemon/store"
)

func TestNextHop(t *testing.T) {
	s := testServer(t)
	tok := s.routeToken("fz-1@192.0.2.10")
	bye := func(ruri, routes, extra string) string {
		text := strings.Replace(byeText, "BYE sip:1002@192.0.2.20:5060", "BYE "+ruri, 1)
		text = strings.Replace(text, "Route: <sip:127.0.0.1:5060;transport=udp;lr>, <sip:127.0.0.1:5060;transport=udp;lr;dg=TOKEN>\n", routes+extra, 1)
		return strings.ReplaceAll(text, "TOKEN", tok)
	}
	ours := "<sip:127.0.0.1:5060;transport=udp;lr;dg=TOKEN>"
	plain := "<sip:127.0.0.1:5060;transport=udp;lr>"
	tests := []struct {
		name     string
		text     string
		wantCode int
		wantDest string
		wantTP   string
		wantRURI string
		wantMF   string
		wantRt   int // Route headers left
	}{
		{name: "loose route to phone", text: bye("sip:1002@192.0.2.20:5062", "Route: "+ours+"\n", ""),
			wantDest: "192.0.2.20:5062", wantTP: "UDP", wantRURI: "sip:1002@192.0.2.20:5062", wantMF: "69"},
		{name: "double record-route", text: bye("sip:1002@192.0.2.20;transport=tcp", "Route: "+plain+", "+ours+"\n", ""),
			wantDest: "192.0.2.20:5060", wantTP: "TCP", wantMF: "69"},
		{name: "next route is another proxy", text: bye("sip:1002@192.0.2.20", "Route: "+ours+", <sip:192.0.2.50:5080;lr>\n", ""),
			wantDest: "192.0.2.50:5080", wantTP: "UDP", wantRt: 1, wantMF: "69"},
		{name: "strict router", text: bye("sip:127.0.0.1:5060;transport=udp;lr;dg=TOKEN", "Route: <sip:1002@192.0.2.20:5062>\n", ""),
			wantDest: "192.0.2.20:5062", wantRURI: "sip:1002@192.0.2.20:5062", wantTP: "UDP", wantMF: "69"},
		{name: "max-forwards absent", text: strings.Replace(bye("sip:1002@192.0.2.20", "Route: "+ours+"\n", ""), "Max-Forwards: 70\n", "", 1),
			wantDest: "192.0.2.20:5060", wantTP: "UDP", wantMF: "70"},
		{name: "unsigned route", text: bye("sip:1002@192.0.2.20", "Route: "+plain+"\n", ""), wantCode: 403},
		{name: "wrong token", text: strings.Replace(bye("sip:1002@192.0.2.20", "Route: "+ours+"\n", ""), tok, "AAAAAAAAAAAAAAAA", 1), wantCode: 403},
		{name: "token of another call", text: strings.Replace(bye("sip:1002@192.0.2.20", "Route: "+ours+"\n", ""), "Call-ID: fz-1@192.0.2.10", "Call-ID: other", 1), wantCode: 403},
		{name: "no route", text: bye("sip:1002@192.0.2.20", "", ""), wantCode: 481},
		{name: "route to someone else", text: bye("sip:1002@192.0.2.20", "Route: <sip:192.0.2.50;lr>\n", ""), wantCode: 481},
		{name: "back to us", text: bye("sip:test.example", "Route: "+ours+"\n", ""), wantCode: 482},
		{name: "hops exhausted", text: strings.Replace(bye("sip:1002@192.0.2.20", "Route: "+ours+"\n", ""), "Max-Forwards: 70", "Max-Forwards: 0", 1), wantCode: 483},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hop := s.nextHop(parseReq(t, tc.text))
			if hop.code != tc.wantCode {
				t.Fatalf("code %d %s, want %d", hop.code, hop.reason, tc.wantCode)
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
		})
	}
}

// TestRouteTokenStable: the key comes from the store, so a new process
// (a restart) signs and accepts the same tokens.
func TestRouteTokenStable(t *testing.T) {
	s := testServer(t)
	again, err := routeKey(s.opts.Store)
	if err != nil {
		t.Fatal(err)
	}
	s2 := &Server{routeKey: again}
	if s.routeToken("x") != s2.routeToken("x") || s.routeToken("x") == s.routeToken("y") {
		t.Error("route tokens not stable per Call-ID across processes")
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
