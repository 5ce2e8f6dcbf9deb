package routing

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
	"deskgate/routing/fork"
	"deskgate/routing/ringplan"
	"deskgate/routing/sca"
)

// callInfoOf is a NOTIFY's Call-Info header value ("" = none).
func callInfoOf(n *sip.Request) string {
	if h := n.GetHeader("Call-Info"); h != nil {
		return h.Value()
	}
	return ""
}

// lastTo returns the last NOTIFY sent to the subscription answered by ok
// (waiting up to 5 s for the first).
func lastTo(t *testing.T, sink *notifySink, ok *sip.Response) *sip.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var last *sip.Request
		for _, n := range sink.all() {
			if n.CallID().Value() == ok.CallID().Value() {
				last = n
			}
		}
		if last != nil {
			return last
		}
		if time.Now().After(deadline) {
			t.Fatalf("no NOTIFY in %s", ok.CallID().Value())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCallInfo waits until the last NOTIFY of a subscription carries want.
func waitCallInfo(t *testing.T, sink *notifySink, ok *sip.Response, want string) *sip.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := lastTo(t, sink, ok)
		if callInfoOf(n) == want {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("Call-Info %q, want %q", callInfoOf(n), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const (
	salesIdle = "<sip:2100@test.example>;appearance-index=*;appearance-state=idle"
	erinIdle  = "<sip:1010@test.example>;appearance-index=*;appearance-state=idle"
)

// TestSCASubscribe: a line's members get the appearances (all idle) in a
// NOTIFY with a Call-Info header and no body; anyone else is refused.
func TestSCASubscribe(t *testing.T) {
	tests := []struct {
		name, ruser, ext, user, want, info string
	}{
		{"operator on a department line", "2100", "1020", "olga", "200 OK", salesIdle},
		{"second operator on the same line", "2100", "1001", "alice", "200 OK", salesIdle},
		{"department line by number is the same line", "2100", "1020", "olga", "200 OK", salesIdle},
		{"executive on its own line", "1010", "1010", "erin", "200 OK", erinIdle},
		{"active assistant on the executive's line", "1010", "1011", "amy", "200 OK", erinIdle},
		{"pending assistant", "1010", "1013", "pat", "403 Not On This Line", ""},
		{"non-operator on a department line", "2000", "1001", "alice", "403 Not On This Line", ""},
		{"plain user on another user's line", "1001", "1002", "bob", "403 Not On This Line", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sink := keysServer(t)
			m := subMsg{ruser: tt.ruser, ext: tt.ext, user: tt.user, event: "call-info", expires: 600}
			res := exchange(t, s, m.raw(t, s))
			if got := status(res); got != tt.want {
				t.Fatalf("answered %q, want %q", got, tt.want)
			}
			if tt.info == "" {
				time.Sleep(20 * time.Millisecond)
				if n := len(sink.all()); n != 0 {
					t.Fatalf("%d NOTIFYs for a refused SUBSCRIBE", n)
				}
				return
			}
			n := sink.wait(t, 1)[0]
			checkNotify(t, n, res, "call-info", "active;expires=600", 1)
			if got := callInfoOf(n); got != tt.info {
				t.Errorf("Call-Info %q, want %q", got, tt.info)
			}
			if len(n.Body()) != 0 || n.GetHeader("Content-Type") != nil {
				t.Errorf("call-info NOTIFY with a body: %q", n.Body())
			}
		})
	}
}

// TestSCASeize: a seize is NOTIFYed to the seizer (line-seize) and every
// watcher (call-info); a second seize of the same appearance is 480 with
// Retry-After: 1; an unused seize expires: idle to all, and the seizer's
// line-seize subscription ends (timeout); a seize given back (Expires: 0)
// is idle at once.
func TestSCASeize(t *testing.T) {
	s, sink := keysServer(t)
	olga, _ := subscribe(t, s, sink, subMsg{ruser: "2100", ext: "1020", user: "olga", event: "call-info", expires: 600,
		contact: "192.0.2.20:5062", callID: "ci-olga"})
	alice, _ := subscribe(t, s, sink, subMsg{ruser: "2100", ext: "1001", user: "alice", event: "call-info", expires: 600,
		contact: "192.0.2.21:5062", callID: "ci-alice"})
	seized := "<sip:2100@test.example>;appearance-index=1;appearance-state=seized," + salesIdle

	seize := subMsg{ruser: "2100", ext: "1020", user: "olga", event: "line-seize", expires: 60, callID: "ls-olga",
		contact: "192.0.2.20:5062", headers: []string{"Call-Info: <sip:2100@test.example>;appearance-index=1"}}
	res := exchange(t, s, seize.raw(t, s))
	if status(res) != "200 OK" || res.GetHeader("Expires").Value() != "15" {
		t.Fatalf("seize answered %s, Expires %v", status(res), res.GetHeader("Expires"))
	}
	n := waitCallInfo(t, sink, res, "<sip:2100@test.example>;appearance-index=1;appearance-state=seized")
	if got := n.GetHeader("Event").Value(); got != "line-seize" {
		t.Errorf("seize NOTIFY Event %q", got)
	}
	waitCallInfo(t, sink, olga, seized)
	waitCallInfo(t, sink, alice, seized)

	again := subMsg{ruser: "2100", ext: "1001", user: "alice", event: "line-seize", expires: 15, callID: "ls-alice",
		contact: "192.0.2.21:5062", headers: []string{"Call-Info: <sip:2100@test.example>;appearance-index=1"}}
	res2 := exchange(t, s, again.raw(t, s))
	if status(res2) != "480 Appearance In Use" || res2.GetHeader("Retry-After") == nil ||
		res2.GetHeader("Retry-After").Value() != "1" {
		t.Fatalf("second seize answered %s (Retry-After %v)", status(res2), res2.GetHeader("Retry-After"))
	}

	// The seize's time runs out: scaExpire is what the timer calls.
	s.scaExpire(time.Now().Add(sca.SeizeTTL))
	waitCallInfo(t, sink, olga, salesIdle)
	waitCallInfo(t, sink, alice, salesIdle)
	deadline := time.Now().Add(5 * time.Second)
	for lastTo(t, sink, res).GetHeader("Subscription-State").Value() != "terminated;reason=timeout" {
		if time.Now().After(deadline) {
			t.Fatalf("seize subscription not ended: %s", lastTo(t, sink, res).GetHeader("Subscription-State").Value())
		}
		time.Sleep(5 * time.Millisecond)
	}

	// Now alice may seize it; giving it back idles it at once.
	again.callID = "ls-alice-2"
	res3 := exchange(t, s, again.raw(t, s))
	if status(res3) != "200 OK" {
		t.Fatalf("seize after expiry answered %s", status(res3))
	}
	waitCallInfo(t, sink, olga, seized)
	back := again
	back.toTag, back.expires, back.cseq, back.noAuth = tagOf(res3), 0, 2, true
	if res := exchange(t, s, back.raw(t, s)); status(res) != "200 OK" {
		t.Fatalf("seize given back: %s", status(res))
	}
	waitCallInfo(t, sink, olga, salesIdle)
	if apps := s.sca.Appearances("2100"); len(apps) != 0 {
		t.Errorf("appearances left: %+v", apps)
	}
}

// TestSCARenderLeftLine: a subscriber who is no longer on the line (the
// directory changed) gets a last NOTIFY ending the subscription.
func TestSCARenderLeftLine(t *testing.T) {
	s, _ := keysServer(t)
	snap := s.opts.Directory()
	_, gone := s.scaRender(snap, subRec("bob", resSCA+"2100"))
	if gone != "rejected" {
		t.Errorf("non-member: gone %q", gone)
	}
	ci, gone := s.scaRender(snap, subRec("olga", resSeize+"2100"))
	if gone != "noresource" || ci != "" {
		t.Errorf("seize not held: %q %q", ci, gone)
	}
	ci, gone = s.scaRender(snap, subRec("amy", resSCA+"1010"))
	if gone != "" || !strings.Contains(ci, "appearance-index=*") {
		t.Errorf("assistant: %q %q", ci, gone)
	}
}

func subRec(user, resource string) store.Subscription {
	return store.Subscription{User: user, Resource: resource}
}

// TestSCAIncomingFollowsTheLine: an incoming call to a line alerts only
// once a member's phone rings, and when someone not on the line answers
// it (voicemail after the ring timeout) it leaves the line: idle.
func TestSCAIncomingFollowsTheLine(t *testing.T) {
	s, sink := keysServer(t)
	olga, _ := subscribe(t, s, sink, subMsg{ruser: "2100", ext: "1020", user: "olga", event: "call-info", expires: 600})
	alerting := `<sip:2100@test.example>;appearance-index=1;appearance-state=alerting;appearance-uri="\"Bob\" <sip:1002@test.example>",` + salesIdle
	s.scaIn.add("c1", scaPending{line: "2100", fromTag: "bobtag", remote: `"Bob" <sip:1002@test.example>`})

	s.scaForkEvent(fork.Event{Kind: fork.EventRinging, CallID: "c1", Branch: ringplan.Branch{User: "bob"}})
	if apps := s.sca.Appearances("2100"); len(apps) != 0 {
		t.Fatalf("a phone not on the line ringing alerted the line: %+v", apps)
	}
	s.scaForkEvent(fork.Event{Kind: fork.EventRinging, CallID: "c1", Branch: ringplan.Branch{User: "alice"}})
	waitCallInfo(t, sink, olga, alerting)
	s.scaForkEvent(fork.Event{Kind: fork.EventAnswered, CallID: "c1", ToTag: "vm"}) // the trunk's voicemail
	waitCallInfo(t, sink, olga, salesIdle)

	// Answered by a member: active, and the call's end is idle at once.
	s.scaIn.add("c2", scaPending{line: "2100", fromTag: "bobtag", remote: `"Bob" <sip:1002@test.example>`})
	s.scaForkEvent(fork.Event{Kind: fork.EventAnswered, CallID: "c2", ToTag: "olgatag", Branch: ringplan.Branch{User: "olga"}})
	waitCallInfo(t, sink, olga, strings.Replace(alerting, "alerting", "active", 1))
	s.scaCallDone("c2", true)
	if c, ok := s.sca.ByCall("c2"); !ok || c.LineTag != "olgatag" || c.RemoteTag != "bobtag" || c.Owner != "olga" {
		t.Errorf("answered appearance %+v", c)
	}
	s.scaEnded("c2")
	waitCallInfo(t, sink, olga, salesIdle)
	s.scaCallDone("c3", false) // unknown calls change nothing
}
