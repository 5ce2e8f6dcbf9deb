package routing_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"deskgate/routing/events"
	"deskgate/routing/presence"
	"deskgate/routing/sipptest"
)

// subscriber starts a sipp phone key (subscriber.xml) of user (extension
// ext) watching service with event; it unsubscribes after 4 s without a
// NOTIFY.
func (h *harness) subscriber(name, ext, user, service, event string) *sipptest.Process {
	h.t.Helper()
	accept := events.DialogContentType
	if event == events.PackageFeature {
		accept = events.FeatureContentType
	}
	return sipptest.Start(h.t, sipptest.Options{Name: name, Scenario: scenario("subscriber.xml"), Remote: h.udp,
		Service: service, Inf: h.usersCSV(userLine(ext, h.password(user), 5999)),
		Keys: map[string]string{"event": event, "accept": accept, "expires": "600"}, Timeout: 30 * time.Second})
}

// notifies returns the NOTIFYs a sipp phone received so far.
func notifies(p *sipptest.Process) []sipptest.Message { return p.Received("NOTIFY") }

// waitNotifies waits until the phone has received n NOTIFYs (at most 10 s).
func waitNotifies(t *testing.T, p *sipptest.Process, n int) []sipptest.Message {
	t.Helper()
	var got []sipptest.Message
	waitFor(t, 10*time.Second, p.Name+" NOTIFY #"+itoa(n), func() bool {
		got = notifies(p)
		return len(got) >= n
	})
	return got
}

// body is a message's body (after the blank line).
func body(m sipptest.Message) string {
	_, b, _ := strings.Cut(m.Text, "\n\n")
	return b
}

// dialogStates lists the dialog states of a dialog-info NOTIFY ("" = idle).
func dialogStates(t *testing.T, m sipptest.Message) string {
	t.Helper()
	info, err := events.ParseInfo([]byte(body(m)))
	if err != nil {
		t.Fatalf("NOTIFY body: %v\n%s", err, m.Text)
	}
	var s []string
	for _, d := range info.Dialogs {
		s = append(s, d.State)
	}
	return strings.Join(s, ",")
}

// TestSippDNDKeySync: issue 5 item 1. A phone's DND key subscription
// (as-feature-event) gets the current state at once, then every change:
// another phone of the user dialling *78, the control API (presence
// service) turning it off and on. When the phone unsubscribes (Expires: 0)
// the last NOTIFY says terminated.
func TestSippDNDKeySync(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()))
	key := h.subscriber("bob-desk-dnd-key", "1002", "bob", "1002", events.PackageFeature)
	waitNotifies(t, key, 1)
	code := h.call("bob-other-phone", "uac_reject.xml", "1002", "bob", "*78")
	wantExit(t, code)
	if got := finalStatus(code); got != "SIP/2.0 480 DND on" {
		t.Fatalf("*78 answered %q", got)
	}
	waitNotifies(t, key, 2)
	setPresence(t, h, "bob", presence.Op{Kind: presence.KindDND, On: false})
	waitNotifies(t, key, 3)
	setPresence(t, h, "bob", dndOn)
	waitNotifies(t, key, 4)
	wantExit(t, key) // silence: it unsubscribes
	ns := notifies(key)
	want := []struct{ dnd, state string }{
		{"false", "active;expires="}, {"true", "active;expires="}, {"false", "active;expires="},
		{"true", "active;expires="}, {"true", "terminated;reason=timeout"},
	}
	if len(ns) != len(want) {
		t.Fatalf("%d NOTIFYs, want %d", len(ns), len(want))
	}
	for i, w := range want {
		n := ns[i]
		if !strings.Contains(body(n), "<doNotDisturbOn>"+w.dnd+"</doNotDisturbOn>") ||
			!strings.Contains(body(n), `xmlns="`+events.CSTANamespace+`"`) {
			t.Errorf("NOTIFY %d body:\n%s\nwant DND %s", i, body(n), w.dnd)
		}
		if st := strings.Join(n.Header("Subscription-State"), ""); !strings.HasPrefix(st, w.state) {
			t.Errorf("NOTIFY %d Subscription-State %q, want %s", i, st, w.state)
		}
		if ev := n.Header("Event"); len(ev) != 1 || ev[0] != events.PackageFeature {
			t.Errorf("NOTIFY %d Event %q", i, ev)
		}
		if ct := n.Header("Content-Type"); len(ct) != 1 || ct[0] != events.FeatureContentType {
			t.Errorf("NOTIFY %d Content-Type %q", i, ct)
		}
	}
	if subs, _ := h.db.Subscriptions(time.Now()); len(subs) != 0 {
		t.Errorf("%d subscriptions stored after unsubscribing", len(subs))
	}
}

// TestSippAwayKey: issue 5 item 3. An operator's away key watches
// away-<department> (Event: dialog); pressing it (an INVITE to the same
// resource) toggles away for that department, answered like a feature
// code, and the lamp's NOTIFY follows: confirmed = away, no dialog = back.
func TestSippAwayKey(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()))
	lamp := h.subscriber("olga-away-support", "1020", "olga", "away-2000", events.PackageDialog)
	ns := waitNotifies(t, lamp, 1)
	if got := dialogStates(t, ns[0]); got != "" {
		t.Fatalf("initial lamp %q, want off", got)
	}
	steps := []struct {
		want, lamp string
		away       bool
	}{
		{"SIP/2.0 480 Away on support", "confirmed", true},
		{"SIP/2.0 480 Away off support", "", false},
	}
	for i, st := range steps {
		press := h.call("olga-presses-away", "uac_reject.xml", "1020", "olga", "away-2000")
		wantExit(t, press)
		if got := finalStatus(press); got != st.want {
			t.Fatalf("press %d answered %q, want %q", i, got, st.want)
		}
		if got := h.presence.Away("olga", "support"); got != st.away {
			t.Errorf("press %d: away from support = %v", i, got)
		}
		ns = waitNotifies(t, lamp, i+2)
		if got := dialogStates(t, ns[i+1]); got != st.lamp {
			t.Errorf("press %d: lamp %q, want %q", i, got, st.lamp)
		}
	}
	// A feature code changes the same state: the lamp follows it too.
	code := h.call("olga-dials-away-all", "uac_reject.xml", "1020", "olga", "*45")
	wantExit(t, code)
	ns = waitNotifies(t, lamp, 4)
	if got := dialogStates(t, ns[3]); got != "confirmed" {
		t.Errorf("after *45 the lamp is %q, want confirmed", got)
	}
	lamp.Stop()
}

// TestSippForbiddenSubscription: issue 5 item 4. Subscribing to something
// the phone may not see is refused with 403 (another user's DND, the away
// key of a department the user does not operate); unknown resources 404.
func TestSippForbiddenSubscription(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()))
	tests := []struct {
		name, ext, user, service, event, want string
	}{
		{"another user's DND", "1002", "bob", "1020", events.PackageFeature, "SIP/2.0 403"},
		{"away key of a department not operated", "1002", "bob", "away-2000", events.PackageDialog, "SIP/2.0 403"},
		{"away-all key of a non-operator", "1002", "bob", "away", events.PackageDialog, "SIP/2.0 403"},
		{"BLF on an unknown extension", "1002", "bob", "1999", events.PackageDialog, "SIP/2.0 404"},
		{"BLF on a colleague (allowed)", "1002", "bob", "1020", events.PackageDialog, "SIP/2.0 200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sipptest.Start(t, sipptest.Options{Name: "sub-" + tt.user, Scenario: scenario("subscribe_once.xml"),
				Remote: h.udp, Service: tt.service, Inf: h.usersCSV(userLine(tt.ext, h.password(tt.user), 5999)),
				Keys: map[string]string{"event": tt.event}, Timeout: 10 * time.Second})
			wantExit(t, p)
			if last := lastLine(p.Received("SIP/2.0")); !strings.HasPrefix(last, tt.want) {
				t.Errorf("final response %q, want %q", last, tt.want)
			}
		})
	}
}

// TestSippBLF: issue 5 item 2. A BLF key on an executive's extension sees
// the call ring (early), be answered (confirmed) and end (terminated). The
// executive's active assistant sees who is calling and the dialog
// identifiers a directed pickup needs; another colleague sees only the
// state.
func TestSippBLF(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()))
	asst := h.subscriber("amy-blf-erin", "1011", "amy", "1010", events.PackageDialog)
	other := h.subscriber("olga-blf-erin", "1020", "olga", "1010", events.PackageDialog)
	waitNotifies(t, asst, 1)
	waitNotifies(t, other, 1)
	erin := h.phone("erin", "uas_answer.xml", "1010", "erin")
	caller := h.call("bob-calls-erin", "uac_call.xml", "1002", "bob", "1010")
	wantExit(t, caller)
	wantExit(t, erin)
	for _, p := range []*sipptest.Process{asst, other} {
		ns := waitNotifies(t, p, 4)
		var states []string
		for _, n := range ns[:4] {
			states = append(states, dialogStates(t, n))
		}
		if got := strings.Join(states, " → "); got != " → early → confirmed → terminated" {
			t.Errorf("%s saw %q, want idle → early → confirmed → terminated", p.Name, got)
		}
	}
	early := func(p *sipptest.Process) events.Dialog {
		info, err := events.ParseInfo([]byte(body(notifies(p)[1])))
		if err != nil || len(info.Dialogs) != 1 {
			t.Fatalf("%s early NOTIFY: %v %+v", p.Name, err, info)
		}
		if info.Entity != "sip:1010@"+h.udp { // the URI the key subscribed to
			t.Errorf("entity %q", info.Entity)
		}
		return info.Dialogs[0]
	}
	d := early(asst)
	callID := strings.Join(caller.Messages()[0].Header("Call-ID"), "")
	if d.Direction != events.Recipient || d.CallID != callID || d.RemoteTag == "" || d.LocalTag == "" ||
		d.Remote == nil || !strings.HasPrefix(d.Remote.Identity, "sip:1002@") || d.Remote.Display != "Bob Baker" {
		t.Errorf("the assistant's early dialog %+v (remote %+v), want the caller and the pickup identifiers of %s", d, d.Remote, callID)
	}
	if d := early(other); d.Remote != nil || d.CallID != "" || d.LocalTag != "" {
		t.Errorf("a colleague's early dialog shows %+v: caller and identifiers are for the line's people only", d)
	}
	asst.Stop()
	other.Stop()
}

// TestSippSubscriptionSurvivesRestart: issue 5 item 4. Subscriptions are
// kept in the store: after a restart the new process resumes each with a
// NOTIFY of the current state (CSeq moved on, in the same dialog), later
// changes keep coming, and the phone's unsubscribe is accepted.
func TestSippSubscriptionSurvivesRestart(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()))
	key := h.subscriber("bob-dnd-key", "1002", "bob", "1002", events.PackageFeature)
	first := waitNotifies(t, key, 1)[0]
	h.restart()
	resumed := waitNotifies(t, key, 2)[1]
	setPresence(t, h, "bob", dndOn)
	changed := waitNotifies(t, key, 3)[2]
	wantExit(t, key)
	cseq := func(m sipptest.Message) int {
		n, _ := strconv.Atoi(strings.Fields(strings.Join(m.Header("CSeq"), ""))[0])
		return n
	}
	if !(cseq(first) < cseq(resumed) && cseq(resumed) < cseq(changed)) {
		t.Errorf("CSeq %d, %d, %d: must keep increasing across the restart", cseq(first), cseq(resumed), cseq(changed))
	}
	for _, m := range []sipptest.Message{resumed, changed} {
		if m.Header("Call-ID")[0] != first.Header("Call-ID")[0] || m.Header("From")[0] != first.Header("From")[0] {
			t.Errorf("NOTIFY after the restart left the dialog: %q %q", m.Header("Call-ID"), m.Header("From"))
		}
	}
	if !strings.Contains(body(changed), "<doNotDisturbOn>true<") {
		t.Errorf("change after the restart not notified:\n%s", body(changed))
	}
	last := notifies(key)
	if st := last[len(last)-1].Header("Subscription-State"); len(st) != 1 || !strings.HasPrefix(st[0], "terminated") {
		t.Errorf("unsubscribe after the restart: last Subscription-State %q", st)
	}
}

// TestSippPickup: issue 5 item 2, directed pickup. The assistant's BLF key
// on the executive's ringing line carries the call's identifiers; pressing
// it sends INVITE with Replaces, which the daemon authorises (active
// assistant) and routes to the caller's phone with Replaces written from
// the caller's side; the caller's phone answers the assistant. A colleague
// trying the same gets 403 and nothing reaches the caller.
func TestSippPickup(t *testing.T) {
	h := newHarnessOffice(t, `
	version: "pickup"
	plan: pro
	timezone: UTC
	users:
	  - {id: bob, name: Bob Baker, extension: "1002", license: talk}
	  - {id: erin, name: Erin Exec, extension: "1010", license: talk, ring_timeout: 3s}
	  - {id: amy, name: Amy Asst, extension: "1011", license: talk}
	  - {id: olga, name: Olga Ops, extension: "1020", license: talk}
	pairings:
	  - {executive: erin, assistant: amy, state: active}
`)
	watch := h.subscriber("amy-blf-erin", "1011", "amy", "1010", events.PackageDialog)
	waitNotifies(t, watch, 1)
	erin := h.phone("erin-rings", "uas_noanswer.xml", "1010", "erin")
	caller := sipptest.Start(t, sipptest.Options{Name: "bob-calls-erin", Scenario: scenario("uac_reject.xml"),
		OOC: scenario("uas_answer.xml"), Remote: h.udp, Service: "1010",
		Inf: h.usersCSV(userLine("1002", h.password("bob"), 5999)), Timeout: 20 * time.Second})
	info, err := events.ParseInfo([]byte(body(waitNotifies(t, watch, 2)[1])))
	if err != nil || len(info.Dialogs) != 1 || info.Dialogs[0].State != events.StateEarly {
		t.Fatalf("no early dialog for the pickup: %v %+v", err, info)
	}
	d := info.Dialogs[0]
	replaces := d.CallID + ";to-tag=" + d.LocalTag + ";from-tag=" + d.RemoteTag + ";early-only"
	pickup := func(name, ext, user string) *sipptest.Process {
		return sipptest.Start(t, sipptest.Options{Name: name, Scenario: scenario("uac_pickup.xml"), Remote: h.udp,
			Service: "1010", Inf: h.usersCSV(userLine(ext, h.password(user), 5999)),
			Keys: map[string]string{"replaces": replaces}, Pause: 200 * time.Millisecond, Timeout: 10 * time.Second})
	}
	colleague := pickup("olga-picks", "1020", "olga")
	wantExit(t, colleague)
	if got := finalStatus(colleague); got != "SIP/2.0 403 Pickup Not Allowed" {
		t.Errorf("colleague's pickup answered %q", got)
	}
	asst := pickup("amy-picks", "1011", "amy")
	wantExit(t, asst)
	if got := finalStatus(asst); !strings.HasPrefix(got, "SIP/2.0 200") {
		t.Errorf("assistant's pickup answered %q, want 200 from the caller", got)
	}
	wantExit(t, caller)
	wantExit(t, erin)
	invites := caller.Received("INVITE")
	if len(invites) != 1 {
		t.Fatalf("caller's phone got %d pickup INVITEs, want 1 (the assistant's only)", len(invites))
	}
	fromTag := strings.Split(strings.Join(caller.Messages()[0].Header("From"), ""), "tag=")[1]
	want := d.CallID + ";to-tag=" + fromTag + ";from-tag=" + d.LocalTag + ";early-only"
	if got := strings.Join(invites[0].Header("Replaces"), ""); got != want {
		t.Errorf("Replaces at the caller %q, want %q", got, want)
	}
	watch.Stop()
}
