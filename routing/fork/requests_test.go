package fork

import (
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

const rawInvite = "INVITE sip:1001@hq.example.test SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK.caller;rport\r\n" +
	"Max-Forwards: 10\r\n" +
	"From: \"Alice Caller\" <sip:alice@hq.example.test>;tag=a1\r\n" +
	"To: <sip:1001@hq.example.test>\r\n" +
	"Call-ID: call-1@test\r\n" +
	"CSeq: 7 INVITE\r\n" +
	"history-info: <sip:old@x>;index=1\r\n" +
	"Contact: <sip:alice@10.0.0.9:5060>\r\n" +
	"Content-Length: 0\r\n\r\n"

func parseRequest(t *testing.T, raw string) *sip.Request {
	t.Helper()
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m.(*sip.Request)
}

func TestBranchRequest(t *testing.T) {
	req := parseRequest(t, rawInvite)
	laddr := sip.Addr{IP: net.IPv4(10, 0, 0, 1), Port: 5060}
	c := &call{e: New(Options{Laddr: func(tp string) (sip.Addr, bool) { return laddr, tp == "TCP" }}), req: req}
	b := ringplan.Branch{User: "mlee", OnBehalfOf: "jsmith", DisplayName: "Alice \"Caller\" for John",
		HistoryInfo: "<sip:1001@hq>;index=1,<sip:1002@hq>;index=1.1;mp=1",
		Contact:     ringplan.Contact{URI: "sip:1002@192.168.1.5:5062;transport=tcp", Source: "203.0.113.7:40000", Transport: "tcp"}}
	fwd := c.branchRequest(branchTarget(b), nil)

	checks := []struct{ name, got, want string }{
		{"request-uri", fwd.Recipient.String(), "sip:1002@192.168.1.5:5062;transport=tcp"},
		{"destination is the binding source", fwd.Destination(), "203.0.113.7:40000"},
		{"transport", fwd.Transport(), "TCP"},
		{"laddr", fwd.Laddr.String(), "10.0.0.1:5060"},
		{"max-forwards decremented", fwd.MaxForwards().Value(), "9"},
		{"original max-forwards untouched", req.MaxForwards().Value(), "10"},
		{"display rewritten and sanitised", fwd.From().DisplayName, "Alice Caller for John"},
		{"original display untouched", req.From().DisplayName, "Alice Caller"},
		{"one history-info", headerValues(fwd, "History-Info"), b.HistoryInfo},
		{"original history-info untouched", headerValues(req, "History-Info"), "<sip:old@x>;index=1"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	own := c.branchRequest(branchTarget(ringplan.Branch{User: "jsmith", Contact: ringplan.Contact{URI: "sip:1001@10.0.0.5"}}), nil)
	if own.Destination() != "10.0.0.5:5060" || own.Transport() != "UDP" || own.Laddr.IP != nil {
		t.Errorf("own branch: destination %s transport %s laddr %v", own.Destination(), own.Transport(), own.Laddr)
	}
	if own.From().DisplayName != "Alice Caller" || headerValues(own, "History-Info") != "<sip:old@x>;index=1" {
		t.Errorf("own branch rewritten: %q %q", own.From().DisplayName, headerValues(own, "History-Info"))
	}
}

func headerValues(r *sip.Request, name string) string {
	var v []string
	for _, h := range r.GetHeaders(name) {
		v = append(v, h.Value())
	}
	return strings.Join(v, " | ")
}

func TestCancelFor(t *testing.T) {
	inv := parseRequest(t, rawInvite)
	inv.SetDestination("10.0.0.5:5060")
	inv.Laddr = sip.Addr{IP: net.IPv4(10, 0, 0, 1), Port: 5060}
	inv.AppendHeader(&sip.RouteHeader{Address: sip.Uri{Scheme: "sip", Host: "10.0.0.7", UriParams: sip.HeaderParams{{K: "lr", V: ""}}}})
	c := CancelFor(inv, reasonElsewhere)
	checks := []struct{ name, got, want string }{
		{"request-uri", c.Recipient.String(), inv.Recipient.String()},
		{"via", c.Via().Value(), inv.Via().Value()},
		{"one via", headerValues(c, "Via"), inv.Via().Value()},
		{"cseq", c.CSeq().Value(), "7 CANCEL"},
		{"route", headerValues(c, "Route"), "<sip:10.0.0.7;lr>"},
		{"reason", headerValues(c, "Reason"), reasonElsewhere},
		{"call-id", c.CallID().Value(), "call-1@test"},
		{"destination", c.Destination(), "10.0.0.5:5060"},
		{"laddr", c.Laddr.String(), "10.0.0.1:5060"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if CancelFor(inv, "").GetHeader("Reason") != nil {
		t.Error("empty reason added a Reason header")
	}
}

func TestInDialog(t *testing.T) {
	inv := parseRequest(t, rawInvite)
	inv.PrependHeader(&sip.RecordRouteHeader{Address: sip.Uri{Scheme: "sip", Host: "us", UriParams: sip.HeaderParams{{K: "lr", V: ""}}}})
	inv.SetDestination("203.0.113.7:40000")
	rr := func(h string) *sip.RecordRouteHeader {
		return &sip.RecordRouteHeader{Address: sip.Uri{Scheme: "sip", Host: h, UriParams: sip.HeaderParams{{K: "lr", V: ""}}}}
	}
	tests := []struct {
		name      string
		below     []string // Record-Route entries added below us, top first
		wantRoute string
		wantDest  string
	}{
		{name: "phone answered directly", wantRoute: "", wantDest: "203.0.113.7:40000"},
		{name: "two proxies below", below: []string{"p2", "p1"}, wantRoute: "<sip:p1;lr> | <sip:p2;lr>", wantDest: "p1:5060"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := sip.NewResponseFromRequest(inv, 200, "OK", nil)
			res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "1001", Host: "192.168.1.5", Port: 5062}})
			for i := len(tt.below) - 1; i >= 0; i-- {
				res.PrependHeader(rr(tt.below[i]))
			}
			bye := inDialog(sip.BYE, inv, res, 8)
			if got := headerValues(bye, "Route"); got != tt.wantRoute {
				t.Errorf("Route = %q, want %q", got, tt.wantRoute)
			}
			if got := bye.Destination(); got != tt.wantDest {
				t.Errorf("destination = %q, want %q", got, tt.wantDest)
			}
			if bye.Recipient.String() != "sip:1001@192.168.1.5:5062" || bye.CSeq().Value() != "8 BYE" {
				t.Errorf("BYE %s CSeq %s", bye.Recipient.String(), bye.CSeq().Value())
			}
			if bye.To().Params.Has("tag") != res.To().Params.Has("tag") || bye.From().Params.String() != inv.From().Params.String() {
				t.Errorf("dialog tags not kept: From %s To %s", bye.From().Value(), bye.To().Value())
			}
		})
	}
}

func TestTargets(t *testing.T) {
	tests := []struct {
		name          string
		got           target
		uri, dest, tp string
		bad           bool
	}{
		{name: "trunk with port", got: trunkTarget("+15550100", "198.51.100.1:5080", "udp"),
			uri: "sip:+15550100@198.51.100.1:5080", dest: "198.51.100.1:5080", tp: "UDP"},
		{name: "trunk without port", got: trunkTarget("+15550100", "trunk.example.test", "tcp"),
			uri: "sip:+15550100@trunk.example.test:5060", dest: "trunk.example.test:5060", tp: "TCP"},
		{name: "trunk without number", got: trunkTarget("", "198.51.100.1:5080", ""),
			uri: "sip:198.51.100.1:5080", dest: "198.51.100.1:5080", tp: "UDP", bad: true},
		{name: "contact without source", got: branchTarget(ringplan.Branch{Contact: ringplan.Contact{URI: "sip:1001@[2001:db8::1]:5070"}}),
			uri: "sip:1001@[2001:db8::1]:5070", dest: "[2001:db8::1]:5070", tp: "UDP"},
		{name: "bad contact", got: branchTarget(ringplan.Branch{Contact: ringplan.Contact{URI: "sip:"}}), tp: "UDP", uri: "sip:", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got.uri.String() != tt.uri || tt.got.dest != tt.dest || tt.got.tp != tt.tp || (tt.got.bad != nil) != tt.bad {
				t.Errorf("target = %s → %s %s bad=%v; want %s → %s %s bad=%v",
					tt.got.uri.String(), tt.got.dest, tt.got.tp, tt.got.bad, tt.uri, tt.dest, tt.tp, tt.bad)
			}
		})
	}
}

func TestResult(t *testing.T) {
	tests := []struct {
		status   int
		timedOut bool
		want     string
	}{
		{200, false, ResultAnswered}, {480, true, ResultMissed}, {487, false, ResultMissed},
		{408, false, ResultMissed}, {486, false, ResultDeclined}, {603, false, ResultDeclined},
		{404, false, ResultFailed}, {500, false, ResultFailed}, {302, false, ResultFailed},
	}
	for _, tt := range tests {
		if got := result(tt.status, tt.timedOut); got != tt.want {
			t.Errorf("result(%d, %v) = %q, want %q", tt.status, tt.timedOut, got, tt.want)
		}
	}
}

func TestSafeHeader(t *testing.T) {
	for v, want := range map[string]bool{
		`SIP;cause=200;text="x"`: true, "a\tb": true, "a\r\nInjected: 1": false, "a\x00": false, "": true,
	} {
		if got := safeHeader(v); got != want {
			t.Errorf("safeHeader(%q) = %v, want %v", v, got, want)
		}
	}
}
