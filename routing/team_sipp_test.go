package routing_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"deskgate/routing/presence"
	"deskgate/routing/sipptest"
)

// teamOffice is the office of the department, assistant, caller ID,
// presence and voicemail tests. The "shut" schedule is closed from
// yesterday to tomorrow (UTC), so it is closed whenever the test runs.
func teamOffice(now time.Time) string {
	day := func(d int) string { return now.UTC().AddDate(0, 0, d).Format("2006-01-02") }
	return fmt.Sprintf(`
	version: "team-test"
	plan: pro
	timezone: UTC
	schedules:
	  shut:
	    mon-sun: ["00:00-24:00"]
	    closed_dates: ["%s", "%s", "%s"]
	users:
	  - {id: bob, name: Bob Baker, extension: "1002", numbers: ["+15551230002"], license: talk, ring_timeout: 3s}
	  - id: erin
	    name: Erin Exec
	    extension: "1010"
	    numbers: ["+15551230010"]
	    license: talk
	    ring_timeout: 3s
	    no_answer: "sip:vm-1010@voicemail.example.test"
	  - {id: amy, name: Amy Asst, extension: "1011", license: talk, ring_timeout: 3s}
	  - {id: dan, name: Dan Deputy, extension: "1012", license: talk}
	  - {id: pat, name: Pat Pending, extension: "1013", license: talk}
	  - {id: carl, name: Carl Closed, extension: "1014", license: talk, schedule: shut, closed: "sip:closed-1014@voicemail.example.test"}
	  - {id: olga, name: Olga Ops, extension: "1020", license: talk, ring_timeout: 3s}
	  - {id: oscar, name: Oscar Ops, extension: "1021", license: talk}
	  - {id: otto, name: Otto Ops, extension: "1022", license: talk}
	  - {id: uma, name: Uma Ops, extension: "1023", license: talk}
	  - {id: vic, name: Vic Ops, extension: "1024", license: talk}
	  - {id: wes, name: Wes Ops, extension: "1025", license: talk}
	  - {id: xena, name: Xena Ops, extension: "1026", license: talk}
	departments:
	  - id: support
	    name: Support
	    extension: "2000"
	    numbers: ["+15551232000"]
	    operators: [olga, oscar, otto, uma, vic, wes, xena]
	    ring_timeout: 2s
	    no_answer: "sip:vm-2000@voicemail.example.test"
	  - {id: sales, name: Sales, extension: "2100", operators: [olga], ring_timeout: 2s}
	  - {id: shut, name: Shut, extension: "2200", operators: [oscar], schedule: shut, closed: "sip:closed-2200@voicemail.example.test"}
	  - {id: board, name: Board, extension: "2300", operators: [erin], ring_timeout: 3s}
	pairings:
	  - {executive: erin, assistant: amy, state: active, permissions: [voicemail]}
	  - {executive: erin, assistant: dan, state: active}
	  - {executive: erin, assistant: pat, state: pending, permissions: [voicemail]}
	  - {executive: carl, assistant: amy, state: active}
`, day(-1), day(0), day(1))
}

// phoneSpec is one registered sipp phone of a call test.
type phoneSpec struct {
	name, scen, ext, user string
	rings                 bool // must receive the INVITE; otherwise must receive none
}

// callCase is one call through a fresh server with a sipp trunk: phones
// register, setup changes presence, the caller calls, and every phone,
// the caller and the trunk are checked.
type callCase struct {
	name      string
	phones    []phoneSpec
	setup     func(t *testing.T, h *harness)
	caller    func(h *harness) sipptest.Options
	wantFinal string // prefix of the caller's final response; "" = the caller's scenario succeeds
	trunkGets string // prefix of the INVITE request line the trunk gets; "" = the trunk gets nothing
	check     func(t *testing.T, h *harness, r callResult)
}

// callResult is what a callCase's peers saw.
type callResult struct {
	phones map[string]*sipptest.Process
	caller *sipptest.Process
	trunk  *sipptest.Process
}

// phoneCaller is a phone calling dial, authenticated as user (From = ext).
func phoneCaller(scen, ext, user, dial string, extra ...string) func(h *harness) sipptest.Options {
	return func(h *harness) sipptest.Options {
		return sipptest.Options{Name: "caller-" + user, Scenario: scenario(scen), Remote: h.udp, Service: dial,
			Inf:   h.usersCSV(userLine(ext, h.password(user), 5999, extra...)),
			Pause: 300 * time.Millisecond, Timeout: 20 * time.Second}
	}
}

// trunkCaller is the trusted trunk calling dial from an outside number.
func trunkCaller(scen, number, dial string) func(h *harness) sipptest.Options {
	return func(h *harness) sipptest.Options {
		return sipptest.Options{Name: "trunk-caller", Scenario: scenario(scen), Remote: h.udp, LocalIP: trunkIP,
			Service: dial, Inf: h.usersCSV(number + ";x;127.0.0.2:5999;[authentication username=x password=y]"),
			Pause: 300 * time.Millisecond, Timeout: 20 * time.Second}
	}
}

func runCallCases(t *testing.T, cases []callCase) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runCallCase(t, tc) })
	}
}

func runCallCase(t *testing.T, tc callCase) {
	trunkPort := sipptest.FreePorts(t, 1)
	h := newHarnessOffice(t, teamOffice(time.Now()), withTrunk(trunkPort))
	r := callResult{phones: map[string]*sipptest.Process{}}
	r.trunk = sipptest.Start(t, sipptest.Options{Name: "trunk", Scenario: scenario("uas_answer.xml"),
		LocalIP: trunkIP, Port: trunkPort, Timeout: 20 * time.Second})
	for _, p := range tc.phones {
		r.phones[p.name] = h.phone(p.name, p.scen, p.ext, p.user)
	}
	if tc.setup != nil {
		tc.setup(t, h)
	}
	r.caller = sipptest.Start(t, tc.caller(h))
	wantExit(t, r.caller)
	if tc.wantFinal != "" {
		if got := finalStatus(r.caller); !strings.HasPrefix(got, tc.wantFinal) {
			t.Errorf("caller's final response %q, want %q", got, tc.wantFinal)
		}
	}
	for _, p := range tc.phones {
		ph := r.phones[p.name]
		if p.rings {
			wantExit(t, ph)
			if len(ph.Received("INVITE")) == 0 {
				t.Errorf("%s did not ring", p.name)
			}
			continue
		}
		ph.Stop()
		if n := len(ph.Received("INVITE")); n != 0 {
			t.Errorf("%s rang (%d INVITEs), want none", p.name, n)
		}
	}
	checkTrunk(t, r.trunk, tc.trunkGets)
	if tc.check != nil {
		tc.check(t, h, r)
	}
}

// checkTrunk checks the trunk got exactly one INVITE starting with want,
// or nothing at all when want is "".
func checkTrunk(t *testing.T, trunk *sipptest.Process, want string) {
	t.Helper()
	if want == "" {
		trunk.Stop()
		if msgs := trunk.Messages(); len(msgs) != 0 {
			t.Errorf("the trunk received %d messages, first: %s", len(msgs), msgs[0].FirstLine())
		}
		return
	}
	wantExit(t, trunk)
	inv := trunk.Received("INVITE")
	if len(inv) != 1 || !strings.HasPrefix(inv[0].FirstLine(), want) {
		t.Errorf("trunk INVITEs %d, first %q, want one %q", len(inv), firstLine(inv), want)
	}
}

func firstLine(ms []sipptest.Message) string {
	if len(ms) == 0 {
		return ""
	}
	return ms[0].FirstLine()
}

// wantCancel checks a phone got one CANCEL, with the "completed
// elsewhere" Reason when elsewhere is set and without it otherwise.
func wantCancel(t *testing.T, name string, p *sipptest.Process, elsewhere bool) {
	t.Helper()
	cancels := p.Received("CANCEL")
	if len(cancels) != 1 {
		t.Errorf("%s got %d CANCELs, want 1", name, len(cancels))
		return
	}
	reason := strings.Join(cancels[0].Header("Reason"), " ")
	got := strings.Contains(reason, "cause=200") && strings.Contains(reason, `text="Call completed elsewhere"`)
	if got != elsewhere {
		t.Errorf("%s CANCEL Reason %q; want completed elsewhere: %v", name, reason, elsewhere)
	}
}

// wantHistory waits for user's history to hold want (newest first, each
// "direction peer result [on_behalf_of]").
func wantHistory(t *testing.T, h *harness, user string, want ...string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		es, err := h.db.History(user, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = got[:0]
		for _, e := range es {
			got = append(got, strings.TrimSpace(e.Direction+" "+e.Peer+" "+e.Result+" "+e.OnBehalfOf))
		}
		if strings.Join(got, "; ") == strings.Join(want, "; ") || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Join(got, "; ") != strings.Join(want, "; ") {
		t.Errorf("history of %s = %q, want %q", user, got, want)
	}
}

// setPresence changes presence the way deskgatectl does.
func setPresence(t *testing.T, h *harness, user string, op presence.Op) {
	t.Helper()
	if _, err := h.presence.Set(context.Background(), user, op, presence.ByControl); err != nil {
		t.Fatal(err)
	}
}

var (
	dndOn   = presence.Op{Kind: presence.KindDND, On: true}
	awayAll = presence.Op{Kind: presence.KindAway, On: true}
)

func awayFrom(dept string) presence.Op {
	return presence.Op{Kind: presence.KindAway, On: true, Department: dept}
}
