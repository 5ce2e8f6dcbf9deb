package routing

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Defects found by real softphones (baresip, linphone) that the unit tests
// pin down; the softphones themselves run in cmd/deskgated.

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
	parsed, rerr := parseRegister(req, "alice", nil, 60, 3600, now)
	if rerr != nil {
		t.Fatalf("refused: %+v", rerr)
	}
	res := registerOK(req, parsed.changes, now)
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

// TestSubscribePresenceAnsweredAtOnce: nobody serves presence here, so a
// presence SUBSCRIBE is refused at once with 489 and Allow-Events, never
// relayed to a phone (which left the watcher waiting 32 s for a 408).
func TestSubscribePresenceAnsweredAtOnce(t *testing.T) {
	s, sink := keysServer(t)
	for _, event := range []string{"presence", "presence.winfo"} {
		res := exchange(t, s, subMsg{ruser: "1002", ext: "1001", user: "alice", event: event, expires: 600}.raw(t, s))
		if got := status(res); got != "489 Bad Event" {
			t.Errorf("%s: %s, want 489 Bad Event", event, got)
		}
		h := res.GetHeader("Allow-Events")
		if h == nil || !strings.Contains(h.Value(), "dialog") || strings.Contains(h.Value(), "presence") {
			t.Errorf("%s: Allow-Events = %v, want the packages we serve", event, h)
		}
	}
	if n := len(sink.all()); n != 0 {
		t.Errorf("%d requests sent on, want none", n)
	}
}

// TestSubscribeMailboxPermissionWithoutTrunk: without a trunk, a
// message-summary SUBSCRIBE to a mailbox the subscriber may not watch is
// 403 (the permission decides first); one it may watch is 404, as there is
// no voicemail server to send it to.
func TestSubscribeMailboxPermissionWithoutTrunk(t *testing.T) {
	s, _ := keysServer(t)
	tests := []struct {
		name string
		msg  subMsg
		want string
	}{
		{"another user's mailbox", subMsg{ruser: "1010", ext: "1001", user: "alice", event: "message-summary", expires: 600},
			"403 Not Your Mailbox"},
		{"assistant without the voicemail permission", subMsg{ruser: "1010", ext: "1011", user: "amy",
			event: "message-summary", expires: 600}, "403 Not Your Mailbox"},
		{"own mailbox", subMsg{ruser: "1001", ext: "1001", user: "alice", event: "message-summary", expires: 600},
			"404 No Voicemail Server"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := status(exchange(t, s, tc.msg.raw(t, s))); got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
		})
	}
}

// TestMessage405DoesNotAllowMessage: an out-of-dialog MESSAGE gets 405, and
// its Allow header does not list MESSAGE (RFC 3261 §21.4.6).
func TestMessage405DoesNotAllowMessage(t *testing.T) {
	s := testServer(t)
	raw := strings.ReplaceAll(strings.TrimLeft(`
MESSAGE sip:1002@test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-msg1
Max-Forwards: 70
From: <sip:1001@test.example>;tag=m1
To: <sip:1002@test.example>
Call-ID: msg-1@192.0.2.10
CSeq: 1 MESSAGE
Content-Type: text/plain
Content-Length: 2

hi`, "\n"), "\n", "\r\n")
	res := exchange(t, s, []byte(raw))
	if res.StatusCode != 405 {
		t.Fatalf("%s, want 405", status(res))
	}
	allow := res.GetHeader("Allow")
	if allow == nil {
		t.Fatal("405 without Allow")
	}
	for _, m := range strings.Split(allow.Value(), ",") {
		if strings.EqualFold(strings.TrimSpace(m), string(sip.MESSAGE)) {
			t.Errorf("Allow %q lists MESSAGE", allow.Value())
		}
	}
}
