package registrar

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
)

const registerText = `
REGISTER sip:test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-reg1
Max-Forwards: 70
From: <sip:1001@test.example>;tag=a1
To: <sip:1001@test.example>
Call-ID: reg-1@192.0.2.10
CSeq: 1 REGISTER
Contact: <sip:1001@192.0.2.10:5062>
Expires: 300
Content-Length: 0

`

// parseReq parses a request written with \n line ends, as received over
// UDP from 192.0.2.10:5062.
func parseReq(t testing.TB, text string) *sip.Request {
	t.Helper()
	text = strings.ReplaceAll(strings.TrimLeft(text, "\n"), "\n", "\r\n")
	msg, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("not a request: %q", text)
	}
	req.SetSource("192.0.2.10:5062")
	req.SetTransport("UDP")
	return req
}

func TestParseRegister(t *testing.T) {
	reg := func(headers string) string {
		return strings.Replace(registerText, "Contact: <sip:1001@192.0.2.10:5062>\nExpires: 300\n", headers, 1)
	}
	cur := []store.Binding{{User: "alice", Contact: "sip:1001@192.0.2.10:5062", CallID: "reg-1@192.0.2.10", CSeq: 5}}
	tests := []struct {
		name     string
		text     string
		cur      []store.Binding
		wantErr  string // "code reason"
		wantExp  []int  // seconds per change
		wildcard bool
	}{
		{name: "header expiry", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 300\n"), wantExp: []int{300}},
		{name: "param wins", text: reg("Contact: <sip:1001@192.0.2.10:5062>;expires=120\nExpires: 300\n"), wantExp: []int{120}},
		{name: "default clamped to max", text: reg("Contact: <sip:1001@192.0.2.10:5062>\n"), wantExp: []int{1800}},
		{name: "clamped to max", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 999999\n"), wantExp: []int{1800}},
		{name: "too brief", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 10\n"), wantErr: "423 Interval Too Brief"},
		{name: "zero removes", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 0\n"), wantExp: []int{0}},
		{name: "two contacts", text: reg("Contact: <sip:a@192.0.2.10>;expires=60, <sip:b@192.0.2.10>\nExpires: 600\n"), wantExp: []int{60, 600}},
		{name: "wildcard", text: reg("Contact: *\nExpires: 0\n"), wildcard: true},
		{name: "wildcard without expires 0", text: reg("Contact: *\nExpires: 60\n"), wantErr: "400 Bad Wildcard Contact"},
		{name: "wildcard with a contact", text: reg("Contact: *\nContact: <sip:a@192.0.2.10>\nExpires: 0\n"), wantErr: "400 Bad Wildcard Contact"},
		{name: "bad expires", text: reg("Contact: <sip:a@192.0.2.10>\nExpires: soon\n"), wantErr: "400 Bad Expires"},
		{name: "bad contact expires", text: reg("Contact: <sip:a@192.0.2.10>;expires=-1\n"), wantErr: "400 Bad Contact Expires"},
		{name: "query only", text: reg(""), wantExp: nil},
		{name: "out of order", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 300\n"), cur: cur, wantErr: "500 Out Of Order CSeq"},
	}
	now := t0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, tc.text)
			got, rerr := Parse(req, "alice", tc.cur, 60, 1800, now)
			if tc.wantErr != "" {
				if rerr == nil {
					t.Fatalf("accepted, want %s", tc.wantErr)
				}
				if s := strconv.Itoa(rerr.Code) + " " + rerr.Reason; s != tc.wantErr {
					t.Errorf("error %q, want %q", s, tc.wantErr)
				}
				if rerr.Code == 423 && (len(rerr.Headers) != 1 || rerr.Headers[0].Name() != "Min-Expires" ||
					rerr.Headers[0].Value() != "60") {
					t.Errorf("423 headers %v", rerr.Headers)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("refused: %+v", rerr)
			}
			if got.Wildcard != tc.wildcard {
				t.Errorf("wildcard = %v", got.Wildcard)
			}
			var exp []int
			for _, c := range got.Changes {
				exp = append(exp, int(c.Expires.Sub(now)/time.Second))
				if c.User != "alice" || c.Source != "192.0.2.10:5062" || c.Transport != "UDP" || c.CSeq != 1 {
					t.Errorf("change %+v", c)
				}
			}
			if !equalInts(exp, tc.wantExp) {
				t.Errorf("expiries %v, want %v", exp, tc.wantExp)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRegisterOKKeepsInstanceAndRegID: the 200 to a REGISTER lists the
// phone's binding with the +sip.instance and reg-id it registered with
// (RFC 5626 §5.2 / RFC 5627): a phone that cannot find them there thinks
// its binding is gone.
func TestRegisterOKKeepsInstanceAndRegID(t *testing.T) {
	const text = `
REGISTER sip:test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-interop1
Max-Forwards: 70
From: <sip:1001@test.example>;tag=a1
To: <sip:1001@test.example>
Call-ID: reg-interop@192.0.2.10
CSeq: 1 REGISTER
Contact: <sip:1001@192.0.2.10:5062;transport=udp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-0004f2aabbcc>";reg-id=1
Contact: <sip:1001@192.0.2.10:5064>;reg-id=evil"x
Expires: 300
Content-Length: 0

`
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	req := parseReq(t, text)
	parsed, rerr := Parse(req, "alice", nil, 60, 3600, now)
	if rerr != nil {
		t.Fatalf("refused: %+v", rerr)
	}
	res := OK(req, parsed.Changes, now)
	var got []string
	for _, h := range res.GetHeaders("Contact") {
		got = append(got, h.Value())
	}
	if len(got) != 2 {
		t.Fatalf("200 lists %d contacts, want 2: %q", len(got), got)
	}
	for _, want := range []string{`+sip.instance="<urn:uuid:00000000-0000-1000-8000-0004f2aabbcc>"`, "reg-id=1", "expires=300"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("200 Contact %q: no %s", got[0], want)
		}
	}
	if strings.Contains(got[1], "reg-id") || strings.Contains(got[1], "+sip.instance") {
		t.Errorf("200 Contact %q: a malformed reg-id was written back", got[1])
	}
}

// okContactReference is how the 200's Contact was built before it was
// written from the stored text: parse the stored URI, write it back with
// sipgo's Contact header.
func okContactReference(b store.Binding, now time.Time) (string, bool) {
	u := sip.Uri{}
	if err := sip.ParseUri(b.Contact, &u); err != nil {
		return "", false
	}
	c := &sip.ContactHeader{Address: u}
	secs := int(b.Expires.Sub(now).Round(time.Second) / time.Second)
	c.Params.Add("expires", strconv.Itoa(max(secs, 0)))
	if b.InstanceID != "" && safeParam(b.InstanceID) {
		c.Params.Add("+sip.instance", `"`+b.InstanceID+`"`)
	}
	if b.RegID != "" && safeParam(b.RegID) {
		c.Params.Add("reg-id", b.RegID)
	}
	return c.Value(), true
}

// TestOKContactAsParsed: the 200 lists each binding exactly as parsing the
// stored contact and writing it back with sipgo did, for the contact forms
// phones send.
func TestOKContactAsParsed(t *testing.T) {
	contacts := []string{
		`<sip:1001@192.0.2.10:5062>`,
		`sip:1001@192.0.2.10:5062`,
		`"Alice" <sip:1001@192.0.2.10:5062;transport=udp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-0004f2aabbcc>";reg-id=1`,
		`<sip:1001@[2001:db8::10]:5062;transport=tcp;ob>;expires=120`,
		`<sips:1001@phone.example;transport=tls>`,
		`<sip:192.0.2.10:5062>;reg-id=2`,
		`<sip:1001;ext=9@192.0.2.10:5062;user=phone;line=abc123>;q=0.5;expires=600`,
		`<sip:%31001@192.0.2.10>`,
		`<sip:1001:secret@192.0.2.10:5062;maddr=192.0.2.1?X-Hdr=1>`,
		`<sip:1001@host-name.example.com;lr>;+sip.instance="<urn:uuid:1>"`,
		`<SIP:1001@192.0.2.10:5062>`,
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for _, ct := range contacts {
		text := strings.Replace(registerText, "Contact: <sip:1001@192.0.2.10:5062>", "Contact: "+ct, 1)
		req := parseReq(t, text)
		parsed, rerr := Parse(req, "alice", nil, 60, 3600, now)
		if rerr != nil {
			t.Logf("contact %s refused (%d %s): nothing to compare", ct, rerr.Code, rerr.Reason)
			continue
		}
		for _, b := range parsed.Changes {
			for _, at := range []time.Duration{0, 1400 * time.Millisecond, 299 * time.Second, time.Hour} {
				want, wantOK := okContactReference(b, now.Add(at))
				got, gotOK := contactValue(b, now.Add(at))
				if got != want || gotOK != wantOK {
					t.Errorf("contact %s at +%v: %q (%v), want %q (%v)", ct, at, got, gotOK, want, wantOK)
				}
			}
		}
	}
	for _, bad := range []string{"sip:a@b>;x=<sip:c@d", "sip:a@b\r\nX: y", ""} {
		if v, ok := contactValue(store.Binding{Contact: bad, Expires: now.Add(time.Hour)}, now); ok {
			t.Errorf("stored contact %q written as %q", bad, v)
		}
	}
}

// TestOKDate: the Date is the response's second, in RFC 1123 GMT form,
// however the cached text was left by the previous call.
// TestOKToTag: the 200's To tag is the same for the same request (so a
// 200 built again for a retransmission matches the first) and differs when
// anything identifying the transaction does; a tag the request has stays.
func TestOKToTag(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tagOf := func(text string) string {
		tag, _ := OK(parseReq(t, text), nil, now).To().Params.Get("tag")
		return tag
	}
	first := tagOf(registerText)
	if len(first) != 16 || first != tagOf(registerText) {
		t.Fatalf("tags %q, %q: want the same 16 hex digits", first, tagOf(registerText))
	}
	for _, tc := range []struct{ name, from, to string }{
		{"Call-ID", "Call-ID: reg-1@", "Call-ID: reg-2@"},
		{"CSeq", "CSeq: 1 ", "CSeq: 2 "},
		{"branch", "branch=z9hG4bK-reg1", "branch=z9hG4bK-reg2"},
		{"From tag", "tag=a1", "tag=a2"},
	} {
		if got := tagOf(strings.Replace(registerText, tc.from, tc.to, 1)); got == first || got == "" {
			t.Errorf("another %s: tag %q, first %q", tc.name, got, first)
		}
	}
	if got := tagOf(strings.Replace(registerText, "To: <sip:1001@test.example>", "To: <sip:1001@test.example>;tag=kept", 1)); got != "kept" {
		t.Errorf("request's To tag: %q", got)
	}
}

func TestOKDate(t *testing.T) {
	base := time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("X", 3600))
	for _, at := range []time.Duration{0, 999 * time.Millisecond, time.Second, -time.Hour, 0, 36 * time.Hour} {
		now := base.Add(at)
		if got, want := date(now), now.UTC().Format(DateFormat); got != want {
			t.Errorf("date at %v = %q, want %q", now, got, want)
		}
	}
}

// FuzzOKContact: for any Contact a REGISTER can carry that Parse accepts
// and sipgo reads back as it wrote it, the 200 writes it as parsing and
// rewriting the stored URI would.
func FuzzOKContact(f *testing.F) {
	for _, s := range []string{`<sip:1001@192.0.2.10:5062>`, `<sip:1001@[2001:db8::1]>;reg-id=1;+sip.instance="<urn:uuid:1>"`,
		`sip:a@b;transport=tcp`, `<sips:x%20y@h?a=b>`} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, ct string) {
		if strings.ContainsAny(ct, "\r\n") {
			return
		}
		text := strings.Replace(registerText, "Contact: <sip:1001@192.0.2.10:5062>", "Contact: "+ct, 1)
		text = strings.ReplaceAll(strings.TrimLeft(text, "\n"), "\n", "\r\n")
		msg, err := sip.ParseMessage([]byte(text))
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		req.SetSource("192.0.2.10:5062")
		req.SetTransport("UDP")
		parsed, rerr := Parse(req, "alice", nil, 60, 3600, now)
		if rerr != nil {
			return
		}
		for _, b := range parsed.Changes {
			want, wantOK := okContactReference(b, now)
			got, gotOK := contactValue(b, now)
			if u := (sip.Uri{}); sip.ParseUri(b.Contact, &u) != nil || u.String() != b.Contact {
				// Malformed contacts sipgo accepts but does not read back
				// as written ("sip:@@" stored as "sip:@", read as "sip:"; a
				// host "*" read as the wildcard): the 200 now lists what
				// was stored instead of that second reading.
				continue
			}
			if gotOK && (!wantOK || got != want) {
				t.Errorf("contact %q stored as %q: written %q, sipgo would write %q (%v)", ct, b.Contact, got, want, wantOK)
			}
		}
	})
}

// TestParseHeaderNamesAnyCase: Contact, Expires and User-Agent are found
// whatever the case of their names (ASCII only, as sipgo compares them).
func TestParseHeaderNamesAnyCase(t *testing.T) {
	text := strings.NewReplacer("Contact: <sip:1001@192.0.2.10:5062>", "contact: <sip:1001@192.0.2.10:5062>\nCONTACT: <sip:1001@192.0.2.10:5064>",
		"Expires: 300", "EXPIRES: 120\nuser-AGENT: Desk 1\nUser-Agent: second").Replace(registerText)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	p, rerr := Parse(parseReq(t, text), "alice", nil, 60, 3600, now)
	if rerr != nil {
		t.Fatalf("refused: %+v", rerr)
	}
	if len(p.Changes) != 2 {
		t.Fatalf("%d changes, want 2", len(p.Changes))
	}
	for _, c := range p.Changes {
		if !c.Expires.Equal(now.Add(120*time.Second)) || c.UserAgent != "Desk 1" {
			t.Errorf("change %+v: want expiry in 120 s and the first User-Agent", c)
		}
	}
}

// TestURIString: a binding's Contact is what sipgo writes for the URI.
func TestURIString(t *testing.T) {
	for _, in := range []string{
		"sip:1001@192.0.2.10:5062",
		"sip:1001@192.0.2.10:5062;transport=udp;ob",
		"sips:1001:secret@[2001:db8::1]:5061;transport=tls?subject=x&priority=urgent",
		"sip:phone.example",
		"SIP:UPPER@Host.Example;LR",
		"tel:+1-201-555-0123",
		"urn:uuid:00000000-0000-1000-8000-000000000001",
	} {
		var u sip.Uri
		if err := sip.ParseUri(in, &u); err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if got, want := uriString(&u), u.String(); got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
	}
}
