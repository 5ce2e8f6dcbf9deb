package reply

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// msg makes a raw SIP message of lines (CRLF line ends, blank line and
// no body appended).
func msg(lines ...string) string { return strings.Join(lines, "\r\n") + "\r\n\r\n" }

func parse(tb testing.TB, raw, src string) *sip.Request {
	tb.Helper()
	m, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	req, ok := m.(*sip.Request)
	if !ok {
		tb.Fatalf("not a request: %T", m)
	}
	if src != "" {
		req.SetSource(src)
	}
	return req
}

// same checks that To builds what sipgo's NewResponseFromRequest builds
// for req (given sipgo's To tag), and leaves req as it was.
func same(t testing.TB, req *sip.Request, code int, reason string) {
	t.Helper()
	before := req.String()
	want := sip.NewResponseFromRequest(req, code, reason, nil)
	tag := ""
	if to := want.To(); to != nil {
		tag, _ = to.Params.Get("tag")
	}
	got := To(req, code, reason, tag)
	if g, w := got.String(), want.String(); g != w {
		t.Fatalf("%d to %s:\ngot:\n%s\nwant:\n%s", code, req.Method, g, w)
	}
	if g, w := got.Destination(), want.Destination(); g != w {
		t.Errorf("destination %q, want %q", g, w)
	}
	if g, w := got.Transport(), want.Transport(); g != w {
		t.Errorf("transport %q, want %q", g, w)
	}
	// What the transaction layer and our handlers read back.
	for _, h := range []struct {
		name      string
		got, want sip.Header
	}{
		{"Via", got.Via(), want.Via()},
		{"From", got.From(), want.From()},
		{"To", got.To(), want.To()},
		{"Call-ID", got.CallID(), want.CallID()},
		{"CSeq", got.CSeq(), want.CSeq()},
		{"Content-Length", got.ContentLength(), want.ContentLength()},
	} {
		if str(h.got) != str(h.want) {
			t.Errorf("%s() %q, want %q", h.name, str(h.got), str(h.want))
		}
	}
	if after := req.String(); after != before {
		t.Errorf("request changed:\n%s\nwas:\n%s", after, before)
	}
}

// str is h written out, "<nil>" for a nil header of any type.
func str(h sip.Header) string {
	switch v := h.(type) {
	case *sip.ViaHeader:
		if v == nil {
			return "<nil>"
		}
	case *sip.FromHeader:
		if v == nil {
			return "<nil>"
		}
	case *sip.ToHeader:
		if v == nil {
			return "<nil>"
		}
	case *sip.CallIDHeader:
		if v == nil {
			return "<nil>"
		}
	case *sip.CSeqHeader:
		if v == nil {
			return "<nil>"
		}
	case *sip.ContentLengthHeader:
		if v == nil {
			return "<nil>"
		}
	case nil:
		return "<nil>"
	}
	return h.String()
}

const (
	register = "REGISTER sip:192.0.2.1 SIP/2.0"
	from     = "From: <sip:1001@192.0.2.1>;tag=ft1"
	callID   = "Call-ID: c1@192.0.2.10"
)

var cases = []struct {
	name   string
	raw    string
	src    string
	code   int
	reason string
}{
	{"register rport", msg(register,
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport",
		"Max-Forwards: 70", from, "To: <sip:1001@192.0.2.1>", callID, "CSeq: 1 REGISTER",
		"Contact: <sip:1001@192.0.2.10:5062>", "Expires: 3600", "Content-Length: 0"),
		"192.0.2.10:5062", 401, "Unauthorized"},
	{"register rport 200", msg(register,
		"Via: SIP/2.0/UDP 192.0.2.10:5062;rport;branch=z9hG4bK1",
		from, "To: \"Desk\" <sip:1001@192.0.2.1>", callID, "CSeq: 2 REGISTER"),
		"198.51.100.7:40000", 200, "OK"},
	{"rport with value, several vias", msg(register,
		"Via: SIP/2.0/TCP 192.0.2.10:5062;branch=z9hG4bK2;rport=5062;received=192.0.2.10",
		"Via: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK3;rport",
		"Via: SIP/2.0/UDP 192.0.2.30:5070;branch=z9hG4bK4",
		from, "To: <sip:1001@192.0.2.1>", callID, "CSeq: 3 REGISTER"),
		"192.0.2.10:5062", 200, "OK"},
	{"no rport", msg(register,
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		from, "To: <sip:1001@192.0.2.1>", callID, "CSeq: 1 REGISTER"),
		"192.0.2.10:5062", 401, "Unauthorized"},
	{"rport and received present, ipv6", msg(register,
		"Via: SIP/2.0/UDP [2001:db8::10]:5062;received=2001:db8::99;branch=z9hG4bK1;rport;x=1;y=2;z",
		from, "To: <sip:1001@[2001:db8::1]>", callID, "CSeq: 1 REGISTER"),
		"[2001:db8::10]:5062", 401, "Unauthorized"},
	{"source without port", msg(register,
		"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK1;rport",
		from, "To: <sip:1001@192.0.2.1>", callID, "CSeq: 1 REGISTER"),
		"192.0.2.10", 401, "Unauthorized"},
	{"no source set", msg(register,
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport",
		from, "To: <sip:1001@192.0.2.1>", callID, "CSeq: 1 REGISTER"),
		"", 401, "Unauthorized"},
	{"compact names, vias on one line", msg(register,
		"v: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport, SIP/2.0/UDP 192.0.2.11;branch=z9hG4bK0",
		"f: <sip:1001@192.0.2.1>;tag=ft1", "t: sip:1001@192.0.2.1", "i: c1@192.0.2.10",
		"CSEQ: 1 REGISTER", "m: <sip:1001@192.0.2.10:5062>", "l: 0"),
		"192.0.2.10:5062", 200, "OK"},
	{"to with tag and params", msg("BYE sip:1002@192.0.2.12:5064 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK5;rport",
		"Record-Route: <sip:192.0.2.1;lr>, <sip:192.0.2.2;lr>",
		"Record-Route: <sip:192.0.2.3;lr>",
		from, "To: <sip:1002@192.0.2.1>;tag=tt9;a=1;b", callID, "CSeq: 5 BYE"),
		"192.0.2.10:5062", 200, "OK"},
	{"to params, no tag", msg("OPTIONS sip:192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK6",
		from, "To: <sip:1002@192.0.2.1;user=phone>;a=1;b;c=3", callID, "CSeq: 6 OPTIONS"),
		"192.0.2.10:5062", 404, "Not Found"},
	{"invite 100 keeps timestamp, no tag", msg("INVITE sip:1002@192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK7;rport",
		"Record-Route: <sip:192.0.2.3;lr>",
		from, "To: <sip:1002@192.0.2.1>", callID, "CSeq: 7 INVITE",
		"Timestamp: 54", "timestamp: 55 0.5", "Contact: <sip:1001@192.0.2.10:5062>"),
		"192.0.2.10:5062", 100, "Trying"},
	{"invite 180 copies record-route", msg("INVITE sip:1002@192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK7;rport",
		"Record-Route: <sip:192.0.2.3;lr>", "record-route: <sip:192.0.2.4;lr>",
		from, "To: <sip:1002@192.0.2.1>", callID, "CSeq: 7 INVITE", "Timestamp: 54"),
		"192.0.2.10:5062", 180, "Ringing"},
	{"invite 183 early dialog", msg("INVITE sip:1002@192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK7",
		"Record-Route: <sip:192.0.2.3;lr>",
		from, "To: <sip:1002@192.0.2.1>", callID, "CSeq: 7 INVITE"),
		"192.0.2.10:5062", 183, "Session Progress"},
	{"invite 407 no record-route", msg("INVITE sip:1002@192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK7;rport",
		"Record-Route: <sip:192.0.2.3;lr>",
		from, "To: <sip:1002@192.0.2.1>", callID, "CSeq: 7 INVITE"),
		"192.0.2.10:5062", 407, "Proxy Authentication Required"},
	{"invite 101 gets a tag", msg("INVITE sip:1002@192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK7",
		from, "To: <sip:1002@192.0.2.1>", callID, "CSeq: 7 INVITE", "Timestamp: 54"),
		"192.0.2.10:5062", 101, "Whatever"},
	{"register 200 no record-route", msg(register,
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		"Record-Route: <sip:192.0.2.3;lr>",
		from, "To: <sip:1001@192.0.2.1>", callID, "CSeq: 1 REGISTER"),
		"192.0.2.10:5062", 200, "OK"},
	{"ack", msg("ACK sip:1002@192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK7;rport",
		"Record-Route: <sip:192.0.2.3;lr>",
		from, "To: <sip:1002@192.0.2.1>;tag=x", callID, "CSeq: 7 ACK"),
		"192.0.2.10:5062", 200, "OK"},
	{"tls route transport", msg("MESSAGE sips:1002@192.0.2.1 SIP/2.0",
		"Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK8;rport",
		"Route: <sip:192.0.2.1;transport=tcp;lr>",
		from, "To: <sips:1002@192.0.2.1>", callID, "CSeq: 8 MESSAGE"),
		"192.0.2.10:5061", 503, "Service Unavailable"},
	{"sip version kept", msg("OPTIONS sip:192.0.2.1 SIP/7.0",
		"Via: SIP/7.0/UDP 192.0.2.10:5062;branch=z9hG4bK9;rport",
		from, "To: <sip:1@192.0.2.1>", callID, "CSeq: 9 OPTIONS"),
		"192.0.2.10:5062", 505, "Version Not Supported"},
}

func TestToMatchesSipgo(t *testing.T) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			same(t, parse(t, c.raw, c.src), c.code, c.reason)
		})
	}
}

// TestToTag: the caller's tag is used only when the request's To has none
// and the status is not 100; "" makes a random one.
func TestToTag(t *testing.T) {
	for _, c := range []struct {
		name, to string
		code     int
		tag      string
		want     string // "*" any 16 characters
	}{
		{"given", "To: <sip:1@192.0.2.1>", 401, "abc", "abc"},
		{"request's kept", "To: <sip:1@192.0.2.1>;tag=old", 200, "abc", "old"},
		{"none on 100", "To: <sip:1@192.0.2.1>", 100, "abc", ""},
		{"random", "To: <sip:1@192.0.2.1>", 200, "", "*"},
	} {
		t.Run(c.name, func(t *testing.T) {
			req := parse(t, msg(register, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
				from, c.to, callID, "CSeq: 1 REGISTER"), "192.0.2.10:5062")
			got, ok := To(req, c.code, "X", c.tag).To().Params.Get("tag")
			switch {
			case c.want == "*" && (len(got) != 16 || !ok):
				t.Errorf("tag %q, want a random one", got)
			case c.want != "*" && got != c.want:
				t.Errorf("tag %q, want %q", got, c.want)
			}
		})
	}
}

// TestTag: the same request (a retransmission) gets the same tag; any
// field identifying another transaction changes it.
func TestTag(t *testing.T) {
	base := []string{register, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1",
		from, "To: <sip:1@192.0.2.1>", callID, "CSeq: 1 REGISTER"}
	tag := Tag(parse(t, msg(base...), ""))
	if len(tag) != 16 {
		t.Fatalf("tag %q: want 16 hex digits", tag)
	}
	if again := Tag(parse(t, msg(base...), "")); again != tag {
		t.Errorf("retransmission: tag %q, then %q", tag, again)
	}
	for i, repl := range map[int]string{
		1: "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK2",
		2: "From: <sip:1001@192.0.2.1>;tag=ft2",
		4: "Call-ID: c2@192.0.2.10",
		5: "CSeq: 2 REGISTER",
	} {
		other := append([]string(nil), base...)
		other[i] = repl
		if Tag(parse(t, msg(other...), "")) == tag {
			t.Errorf("%q: same tag", repl)
		}
	}
}

// TestToAllocs: the 401 and 200 to a REGISTER cost the response, its
// header list and the copied To (with the Content-Length), plus the top
// Via when rport is filled in.
func TestToAllocs(t *testing.T) {
	for _, c := range []struct {
		via  string
		want float64
	}{
		{"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1", 3},
		{"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport", 4},
	} {
		req := parse(t, msg(register, c.via, from, "To: <sip:1001@192.0.2.1>", callID,
			"CSeq: 1 REGISTER", "Contact: <sip:1001@192.0.2.10:5062>"), "192.0.2.10:5062")
		req.SetTransport("UDP")
		if n := testing.AllocsPerRun(100, func() { To(req, 401, "Unauthorized", "t1") }); n > c.want {
			t.Errorf("%s: %v allocations, want at most %v", c.via, n, c.want)
		}
	}
}

// FuzzTo: for any request sipgo parses, any status and any source, To
// writes what NewResponseFromRequest writes and changes nothing in the
// request.
func FuzzTo(f *testing.F) {
	for _, c := range cases {
		f.Add([]byte(c.raw), uint16(c.code), c.src)
	}
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "rfc4475", "*.dat"))
	if err != nil || len(files) == 0 {
		f.Fatalf("RFC 4475 messages: %d (%v)", len(files), err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(200), "192.0.2.10:5062")
		f.Add(b, uint16(100), "[::1]:5060")
	}
	f.Fuzz(func(t *testing.T, raw []byte, code uint16, src string) {
		m, err := sip.ParseMessage(raw)
		if err != nil {
			return
		}
		req, ok := m.(*sip.Request)
		if !ok {
			return
		}
		if src != "" {
			req.SetSource(src)
		}
		same(t, req, 100+int(code)%600, "Reason")
	})
}

// BenchmarkTo and BenchmarkNewResponseFromRequest build the 200 to a
// REGISTER from a phone behind NAT (rport), ours and sipgo's.
func BenchmarkTo(b *testing.B) { benchReply(b, func(r *sip.Request) { To(r, 200, "OK", "t1") }) }

func BenchmarkNewResponseFromRequest(b *testing.B) {
	benchReply(b, func(r *sip.Request) { sip.NewResponseFromRequest(r, 200, "OK", nil) })
}

func benchReply(b *testing.B, build func(*sip.Request)) {
	req := parse(b, msg(register, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK1;rport",
		from, "To: <sip:1001@192.0.2.1>", callID, "CSeq: 1 REGISTER",
		"Contact: <sip:1001@192.0.2.10:5062>"), "192.0.2.10:5062")
	req.SetTransport("UDP")
	b.ReportAllocs()
	for b.Loop() {
		build(req)
	}
}

// TestNameIs: header names match as sipgo matches them, ASCII letters
// without case and nothing else folded.
func TestNameIs(t *testing.T) {
	for _, tc := range []struct {
		name, lower string
		want        bool
	}{
		{"Expires", "expires", true},
		{"EXPIRES", "expires", true},
		{"proxy-AUTHORIZATION", "proxy-authorization", true},
		{"Expireſ", "expires", false}, // Unicode folding would match it
		{"Expire", "expires", false},
		{"Expires2", "expires", false},
		{"", "", true},
	} {
		if got := NameIs(tc.name, tc.lower); got != tc.want {
			t.Errorf("NameIs(%q, %q) = %v", tc.name, tc.lower, got)
		}
	}
}
