package routing

import (
	"log/slog"
	"strconv"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	s := testServer(t)
	opt := func(extra string) string {
		return "OPTIONS sip:test.example SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-o1\n" +
			"From: <sip:1001@test.example>;tag=a\nTo: <sip:test.example>\nCall-ID: v1\nCSeq: 1 OPTIONS\n" + extra + "Content-Length: 0\n\n"
	}
	inv := func(extra string) string {
		return strings.Replace(opt(extra), "OPTIONS", "INVITE", 2)
	}
	tests := []struct {
		name string
		text string
		want string
	}{
		{"fine", opt("Max-Forwards: 70\n"), ""},
		{"no Max-Forwards is fine", opt(""), ""},
		{"max-forwards 0 invite", inv("Max-Forwards: 0\n"), "483 Too Many Hops"},
		{"max-forwards 0 options answered", opt("Max-Forwards: 0\n"), ""},
		{"loop through us", inv("Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\n"), "482 Loop Detected"},
		{"another proxy on our IP", inv("Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-x\n"), ""},
		{"proxy-require", inv("Proxy-Require: foo, bar\n"), "420 Bad Extension"},
		{"proxy-require in lower case", inv("proxy-require: foo, bar\n"), "420 Bad Extension"},
		{"empty proxy-require", inv("Proxy-Require: ,\n"), ""},
		{"loop through us, lower-case name", inv("via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x\n"), "482 Loop Detected"},
		{"date in upper case not GMT", opt("DATE: Fri, 01 Jan 2010 16:00:00 EST\n"), "400 Bad Date"},
		{"first date counts", opt("Date: Sat, 13 Nov 2010 23:29:00 GMT\nDate: Fri, 01 Jan 2010 16:00:00 EST\n"), ""},
		{"date in GMT", opt("Date: Sat, 13 Nov 2010 23:29:00 GMT\n"), ""},
		{"date not GMT", opt("Date: Fri, 01 Jan 2010 16:00:00 EST\n"), "400 Bad Date"},
		{"cseq mismatch", strings.Replace(opt(""), "CSeq: 1 OPTIONS", "CSeq: 1 INVITE", 1), "400 CSeq Method Mismatch"},
		{"no call-id", strings.Replace(opt(""), "Call-ID: v1\n", "", 1), "400 Missing Call-ID"},
		{"tel uri", strings.Replace(opt(""), "OPTIONS sip:test.example", "OPTIONS tel:+15551234567", 1), "416 Unsupported URI Scheme"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := validate(parseReq(t, tc.text), s.me)
			got := ""
			if v.Code != 0 {
				got = strconv.Itoa(v.Code) + " " + v.Reason
			}
			if got != tc.want {
				t.Errorf("validate = %q, want %q", got, tc.want)
			}
			if v.Code == 420 && (len(v.Headers) != 1 || v.Headers[0].Value() != "foo, bar") {
				t.Errorf("Unsupported header %v", v.Headers)
			}
		})
	}
}

// TestValidateAllocatesNothing: validating a phone's REGISTER costs no
// allocation (sipgo's header look-ups lower-cased every name they passed).
func TestValidateAllocatesNothing(t *testing.T) {
	s := testServer(t)
	req := parseRaw(t, benchRegister("1001", 2, `Digest username="1001", realm="test.example", nonce="n", uri="sip:test.example", response="0"`))
	if n := testing.AllocsPerRun(100, func() {
		if st := validate(req, s.me); st.Code != 0 {
			t.Fatalf("validate = %d %s", st.Code, st.Reason)
		}
	}); n != 0 {
		t.Errorf("validate allocates %v times a REGISTER", n)
	}
}

// TestUnknownMethod: 405 with an Allow header out of dialog.
func TestUnknownMethod(t *testing.T) {
	s := testServer(t)
	text := "FOO sip:test.example SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-f1\n" +
		"From: <sip:1001@test.example>;tag=a\nTo: <sip:test.example>\nCall-ID: f1\nCSeq: 1 FOO\nContent-Length: 0\n\n"
	raw := []byte(strings.ReplaceAll(text, "\n", "\r\n"))
	if got := handleRaw(t, s, raw); got != "405 Method Not Allowed" {
		t.Fatalf("got %q", got)
	}
}

func TestSipgoLogDemoted(t *testing.T) {
	var buf syncBuffer
	l := slog.New(sipgoHandler{inner: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})})
	l.Error("failed to parse", "data", "REGISTER ... Authorization: Digest response=secret", "error", "bad")
	l.Info("Unhandled sip response")
	l.Error(sipgoTryingRace, "error", "transaction terminated")
	out := buf.String()
	if !strings.Contains(out, "level=WARN") || strings.Contains(out, "secret") || strings.Contains(out, "Unhandled") ||
		strings.Contains(out, "Trying") {
		t.Errorf("sipgo log not demoted/redacted:\n%s", out)
	}
}

// TestRefusals checks refusals end to end through the one writer's
// rendering (Status.response) without a transaction: validate, then the
// method's handler, as handle does.
func TestRefusals(t *testing.T) {
	s := testServer(t)
	msg := func(method, ruri, extra string) string {
		return method + " " + ruri + " SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-r1\n" +
			"From: <sip:1001@test.example>;tag=a\nTo: <sip:1002@test.example>" + extra +
			"\nCall-ID: r1\nCSeq: 1 " + method + "\nMax-Forwards: 70\nContent-Length: 0\n\n"
	}
	tests := []struct {
		name, text string
		want       string // status line
		header     string // "Name: value" the response must carry; "" = none checked
	}{
		{"cancel without a transaction", msg("CANCEL", "sip:1002@test.example", ""),
			"SIP/2.0 481 Call/Transaction Does Not Exist", ""},
		{"unknown method", msg("PUBLISH", "sip:1002@test.example", ""),
			"SIP/2.0 405 Method Not Allowed", "Allow: " + allowed},
		{"message outside a dialog", msg("MESSAGE", "sip:1002@test.example", ""),
			"SIP/2.0 405 Method Not Allowed Outside A Dialog", "Allow: " + allowed},
		{"bye outside a dialog", msg("BYE", "sip:1002@test.example", ""),
			"SIP/2.0 481 Call/Transaction Does Not Exist", ""},
		{"bye without our route", msg("BYE", "sip:1002@192.0.2.20", ";tag=b"),
			"SIP/2.0 481 Call/Transaction Does Not Exist", ""},
		{"subscribe without event", msg("SUBSCRIBE", "sip:1002@test.example", ""),
			"SIP/2.0 489 Bad Event", ""},
		{"register elsewhere", msg("REGISTER", "sip:other.example", ""),
			"SIP/2.0 404 Domain Not Served", ""},
		{"proxy-require", strings.Replace(msg("INVITE", "sip:1002@test.example", ""), "Max-Forwards", "Proxy-Require: foo\nMax-Forwards", 1),
			"SIP/2.0 420 Bad Extension", "Unsupported: foo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, tc.text)
			st := validate(req, s.me)
			if st.Code == 0 {
				st = s.dispatch(req, nil) // a refusal never touches the transaction
			}
			if st.Code == 0 {
				t.Fatalf("no refusal, want %q", tc.want)
			}
			res := st.response(req)
			if got := res.StartLine(); got != tc.want {
				t.Errorf("status line %q, want %q", got, tc.want)
			}
			if tc.header != "" {
				name, value, _ := strings.Cut(tc.header, ": ")
				if h := res.GetHeader(name); h == nil || h.Value() != value {
					t.Errorf("%s: %v, want %q", name, h, value)
				}
			}
			if got := callIDOf(res); got != "r1" {
				t.Errorf("Call-ID %q", got)
			}
		})
	}
}
