package routing_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// scaOffice has a department line shared by three operators and an
// executive line shared by the executive and an assistant; bob calls and
// is called; alice is on no line.
const scaOffice = `
	version: "sca-test"
	plan: pro
	timezone: UTC
	users:
	  - {id: alice, name: Alice Able, extension: "1001", license: talk}
	  - {id: bob, name: Bob Baker, extension: "1002", numbers: ["+15551230002"], license: talk, ring_timeout: 5s}
	  - {id: erin, name: Erin Exec, extension: "1010", numbers: ["+15551230010"], license: talk, ring_timeout: 5s}
	  - {id: amy, name: Amy Asst, extension: "1011", license: talk}
	  - {id: olga, name: Olga Ops, extension: "1020", license: talk}
	  - {id: oscar, name: Oscar Ops, extension: "1021", license: talk}
	  - {id: otto, name: Otto Ops, extension: "1022", license: talk}
	departments:
	  - {id: support, name: Support, extension: "2000", numbers: ["+15551232000"], operators: [olga, oscar, otto], ring_timeout: 5s}
	pairings:
	  - {executive: erin, assistant: amy, state: active}
`

// Appearance indexes the scenario uses: the incoming call takes the
// lowest free one (1, while 2 is seized), the outgoing call seizes 3.
const (
	idxIncoming = 1
	idxExpiry   = 2
	idxOutgoing = 3
)

// scaMember is one phone on a shared line.
type scaMember struct{ name, ext, user string }

// scaLine is one shared line scenario: members[0] answers the incoming
// call and seizes, calls out and holds; members[len-1] retrieves the held
// call and lets a seize expire; members[1] has its seize refused.
type scaLine struct {
	line     string // the line's extension
	lineName string // its directory name (caller ID display)
	members  []scaMember
	outsider scaMember
	callee   scaMember // bob: calls the line, is called from it
}

// scaServer is what the phones talk to: deskgated or Kamailio's sca
// module. The two differ in how phones join a line: on deskgate each
// phone registers its own extension and authenticates as its user (the
// directory says who is on the line); on Kamailio each phone registers
// the line's number itself (its Contact user is the line, which is how
// the sca module ties a phone to a line) and nothing is authenticated.
type scaServer struct {
	name   string
	remote string
	// csv writes a sipp CSV line for a phone of member m presenting as
	// from, its Contact on port.
	csv func(t *testing.T, m scaMember, from string, port int) string
	// register registers the phone of m on port for line ("" = its own
	// line).
	register func(t *testing.T, m scaMember, line string, port int)
}

// scaRun is what the phones saw.
type scaRun struct {
	// states per phone, per appearance index: every state in the NOTIFYs
	// the phone's call-info key received, repeats removed.
	states map[string]map[int][]string
	// outsider: the final response to a non-member's call-info SUBSCRIBE.
	outsider string
	// secondSeize: the final response to a second seize of the same
	// appearance, with its Retry-After.
	secondSeize string
	// calleeIdentity: the P-Asserted-Identity bob's phone got on the call
	// out of the line.
	calleeIdentity string
	// seizeEnd: the Subscription-State of the last NOTIFY of the seize
	// that expired.
	seizeEnd string
	// cancelled: whether each member's ringer got a CANCEL for the
	// incoming call (the phones that did not answer stop ringing).
	cancelled map[string]bool
	// callInfo: every Call-Info each phone's key received, for failure
	// messages.
	callInfo map[string][]string
}

// scaPhone starts a sipp that watches (call-info) or seizes (line-seize
// with index) the line.
func scaPhone(t *testing.T, srv scaServer, name, event string, m scaMember, from, line string, index int) *sipptest.Process {
	t.Helper()
	port := sipptest.FreePorts(t, 1)
	idx := "*"
	if index > 0 {
		idx = strconv.Itoa(index)
	}
	expires := "600"
	if event == "line-seize" {
		expires = "15"
	}
	return sipptest.Start(t, sipptest.Options{Name: name, Scenario: scenario("sca_watcher.xml"), Remote: srv.remote,
		Port: port, Service: line, Inf: srv.csv(t, m, from, port),
		Keys:    map[string]string{"event": event, "index": idx, "expires": expires},
		Timeout: 60 * time.Second})
}

// waitState waits until phone p's call-info NOTIFYs show appearance index
// in state want (at most d); false when they did not.
func waitState(p *sipptest.Process, index int, want string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if s := appearanceStates(p.Received("NOTIFY"))[index]; len(s) > 0 && s[len(s)-1] == want {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// appearanceStates reads the Call-Info of each NOTIFY in order and returns,
// per appearance index seen anywhere, its state in every NOTIFY (idle when
// the NOTIFY does not list it), repeats removed.
func appearanceStates(notifies []sipptest.Message) map[int][]string {
	var snaps []map[int]string
	seen := map[int]bool{}
	for _, n := range notifies {
		snap := map[int]string{}
		for _, v := range n.Header("Call-Info") {
			for _, entry := range splitCallInfo(v) {
				idx, state := callInfoEntry(entry)
				if idx > 0 && state != "" {
					snap[idx] = state
					seen[idx] = true
				}
			}
		}
		snaps = append(snaps, snap)
	}
	out := map[int][]string{}
	for idx := range seen {
		var seq []string
		for _, snap := range snaps {
			st := snap[idx]
			if st == "" {
				st = "idle"
			}
			if len(seq) == 0 || seq[len(seq)-1] != st {
				seq = append(seq, st)
			}
		}
		out[idx] = seq
	}
	return out
}

// splitCallInfo splits a Call-Info value at the commas between entries
// (not inside <> or quotes).
func splitCallInfo(v string) []string {
	var out []string
	depth, quoted, start := 0, false, 0
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == '<' && !quoted:
			depth++
		case c == '>' && !quoted:
			depth--
		case c == ',' && !quoted && depth == 0:
			out = append(out, v[start:i])
			start = i + 1
		}
	}
	return append(out, v[start:])
}

// callInfoEntry returns an entry's appearance-index (0 for * or none) and
// appearance-state.
func callInfoEntry(e string) (int, string) {
	idx, state := 0, ""
	for _, p := range strings.Split(e, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(k)) {
		case "appearance-index":
			idx, _ = strconv.Atoi(strings.TrimSpace(v))
		case "appearance-state":
			state = strings.TrimSpace(v)
		}
	}
	return idx, state
}

// finalOf is the final response line a SUBSCRIBE or INVITE got (ignoring
// 1xx and 407), with its Retry-After when present.
func finalOf(p *sipptest.Process) string {
	last := ""
	for _, m := range p.Received("SIP/2.0 ") {
		l := m.FirstLine()
		if strings.HasPrefix(l, "SIP/2.0 1") || strings.HasPrefix(l, "SIP/2.0 407") {
			continue
		}
		code, _, _ := strings.Cut(strings.TrimPrefix(l, "SIP/2.0 "), " ")
		last = code
		if ra := m.Header("Retry-After"); len(ra) > 0 {
			last += " Retry-After: " + ra[0]
		}
		break
	}
	return last
}

// runSCA plays the whole shared line scenario against srv and returns what
// every phone saw. It fails the test only where the scenario could not be
// played (a phone that did not get through); what the phones saw is the
// caller's to check.
func runSCA(t *testing.T, srv scaServer, lc scaLine) scaRun {
	t.Helper()
	run := scaRun{states: map[string]map[int][]string{}, callInfo: map[string][]string{}, cancelled: map[string]bool{}}
	first, last := lc.members[0], lc.members[len(lc.members)-1]

	// The phones' ringers: the first member answers, the others ring.
	ringers := map[string]*sipptest.Process{}
	for i, m := range lc.members {
		scen := "uas_noanswer.xml"
		if i == 0 {
			scen = "uas_hold.xml"
		}
		p := sipptest.Start(t, sipptest.Options{Name: m.name + "-ringer", Scenario: scenario(scen), Timeout: 60 * time.Second})
		srv.register(t, m, lc.line, p.Port)
		ringers[m.name] = p
	}
	callee := sipptest.Start(t, sipptest.Options{Name: lc.callee.name + "-phone", Scenario: scenario("uas_hold.xml"),
		Calls: 2, Timeout: 60 * time.Second})
	srv.register(t, lc.callee, "", callee.Port)

	// Every member's line key subscribes and sees the line idle.
	keys := map[string]*sipptest.Process{}
	for _, m := range lc.members {
		keys[m.name] = scaPhone(t, srv, m.name+"-key", "call-info", m, lc.line, lc.line, 0)
	}
	for _, m := range lc.members {
		waitFor(t, 10*time.Second, m.name+"'s first call-info NOTIFY", func() bool {
			return len(keys[m.name].Received("NOTIFY")) > 0
		})
	}

	// A phone not on the line.
	out := scaPhone(t, srv, lc.outsider.name+"-key", "call-info", lc.outsider, lc.outsider.ext, lc.line, 0)
	waitFor(t, 10*time.Second, "the outsider's answer", func() bool { return finalOf(out) != "" })
	run.outsider = finalOf(out)
	out.Stop()

	// The last member seizes an appearance and never calls: it expires.
	expiring := scaPhone(t, srv, last.name+"-seize-unused", "line-seize", last, lc.line, lc.line, idxExpiry)
	seizedAt := time.Now()
	if !waitState(keys[first.name], idxExpiry, "seized", 10*time.Second) {
		t.Fatalf("%s: the unused seize was not shown seized", srv.name)
	}

	// Incoming: bob calls the line, the first member answers.
	in := sipptest.Start(t, sipptest.Options{Name: lc.callee.name + "-calls-line", Scenario: scenario("uac_call.xml"),
		Remote: srv.remote, Service: lc.line, Inf: srv.csv(t, lc.callee, lc.callee.ext, 5999),
		Pause: time.Second, Timeout: 20 * time.Second})
	wantExit(t, in)
	for _, m := range lc.members[1:] {
		waitFor(t, 5*time.Second, m.name+"'s ringer to end", func() bool { return ringers[m.name].ExitCode() >= 0 })
		run.cancelled[m.name] = len(ringers[m.name].Received("CANCEL")) > 0
	}
	waitState(keys[first.name], idxIncoming, "idle", 5*time.Second) // Kamailio does not (see the comparison test)

	// Outgoing: the first member seizes, a second seize is refused, the
	// call goes out as the line, is held, and the last member retrieves it.
	seize := scaPhone(t, srv, first.name+"-seize", "line-seize", first, lc.line, lc.line, idxOutgoing)
	if !waitState(keys[last.name], idxOutgoing, "seized", 10*time.Second) {
		t.Fatalf("%s: the seize was not shown seized", srv.name)
	}
	second := scaPhone(t, srv, lc.members[1].name+"-seize-taken", "line-seize", lc.members[1], lc.line, lc.line, idxOutgoing)
	waitFor(t, 10*time.Second, "the answer to the second seize", func() bool { return finalOf(second) != "" })
	run.secondSeize = finalOf(second)
	second.Stop()

	call := sipptest.Start(t, sipptest.Options{Name: first.name + "-calls-out", Scenario: scenario("uac_hold.xml"),
		Remote: srv.remote, Service: lc.callee.ext, Inf: srv.csv(t, first, lc.line, 5999),
		Keys: map[string]string{"hold": "sendonly", "index": strconv.Itoa(idxOutgoing)}, Pause: time.Second, Timeout: 30 * time.Second})
	if !waitState(keys[last.name], idxOutgoing, "held", 10*time.Second) {
		t.Errorf("%s: the held call was not shown held", srv.name)
	}
	if invs := callee.Received("INVITE"); len(invs) > 0 {
		run.calleeIdentity = strings.Join(invs[0].Header("P-Asserted-Identity"), ",")
	}
	replaces, ok := heldDialog(call)
	if !ok {
		t.Fatalf("%s: no dialog to retrieve in %s's trace", srv.name, first.name)
	}
	retrieve := sipptest.Start(t, sipptest.Options{Name: last.name + "-retrieves", Scenario: scenario("uac_pickup.xml"),
		Remote: srv.remote, Service: lc.callee.ext, Inf: srv.csv(t, last, lc.line, 5999),
		Keys: map[string]string{"replaces": replaces}, Pause: 1500 * time.Millisecond, Timeout: 20 * time.Second})
	wantExit(t, retrieve)
	wantExit(t, call)
	waitState(keys[first.name], idxOutgoing, "idle", 5*time.Second)

	// The unused seize: released about 15 s after it was made.
	if !waitState(keys[first.name], idxExpiry, "idle", time.Until(seizedAt.Add(25*time.Second))) {
		t.Errorf("%s: the unused seize was not released", srv.name)
	}
	waitFor(t, 5*time.Second, "the end of the unused seize", func() bool {
		for _, n := range expiring.Received("NOTIFY") {
			if s := n.Header("Subscription-State"); len(s) > 0 && strings.HasPrefix(s[0], "terminated") {
				run.seizeEnd = s[0]
				return true
			}
		}
		return false
	})
	seize.Stop()
	expiring.Stop()
	for name, k := range keys {
		k.Stop()
		run.states[name] = appearanceStates(k.Received("NOTIFY"))
		for _, n := range k.Received("NOTIFY") {
			run.callInfo[name] = append(run.callInfo[name], strings.Join(n.Header("Call-Info"), ", "))
		}
	}
	return run
}

// heldDialog is the Replaces value naming the call a uac_hold.xml phone
// placed, as that phone sees it: the Call-ID, the callee's tag (to-tag)
// and its own (from-tag).
func heldDialog(p *sipptest.Process) (string, bool) {
	for _, m := range p.Received("SIP/2.0 200") {
		if cs := m.Header("CSeq"); len(cs) == 0 || !strings.HasSuffix(cs[0], "INVITE") {
			continue
		}
		id := first(m.Header("Call-ID"))
		toTag := tagParam(first(m.Header("To")))
		fromTag := tagParam(first(m.Header("From")))
		if id != "" && toTag != "" && fromTag != "" {
			return id + ";to-tag=" + toTag + ";from-tag=" + fromTag, true
		}
	}
	return "", false
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func tagParam(h string) string {
	_, after, ok := strings.Cut(h, ";tag=")
	if !ok {
		return ""
	}
	tag, _, _ := strings.Cut(after, ";")
	return strings.TrimSpace(tag)
}

// deskgateSCA is the scaServer for an in-process deskgated.
func deskgateSCA(h *harness) scaServer {
	return scaServer{
		name:   "deskgated",
		remote: h.udp,
		csv: func(t *testing.T, m scaMember, from string, port int) string {
			pw := h.password(m.user)
			return h.usersCSV(fmt.Sprintf("%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]", from, pw, port, m.ext, pw))
		},
		register: func(t *testing.T, m scaMember, line string, port int) {
			h.register(m.ext, h.password(m.user), port)
		},
	}
}

var (
	departmentLine = scaLine{line: "2000", lineName: "Support",
		members: []scaMember{{"olga", "1020", "olga"}, {"oscar", "1021", "oscar"}, {"otto", "1022", "otto"}},
		// alice is on no line; bob is the outside party of the calls.
		outsider: scaMember{"alice", "1001", "alice"}, callee: scaMember{"bob", "1002", "bob"}}
	executiveLine = scaLine{line: "1010", lineName: "Erin Exec",
		members:  []scaMember{{"amy", "1011", "amy"}, {"erin", "1010", "erin"}},
		outsider: scaMember{"alice", "1001", "alice"}, callee: scaMember{"bob", "1002", "bob"}}
)

// deskgateWants is what every phone on a line must see on deskgated, per
// appearance: an incoming call alerts, is answered (active everywhere) and
// is idle at once after the BYE; the outgoing call goes seized,
// progressing, active, held, active again when another phone retrieves
// it, idle after the BYE; an unused seize is released.
var deskgateWants = map[int][]string{
	idxIncoming: {"idle", "alerting", "active", "idle"},
	idxExpiry:   {"idle", "seized", "idle"},
	idxOutgoing: {"idle", "seized", "progressing", "active", "held", "active", "idle"},
}

// TestSippSCA: issue 11. Phones on a department line (three) and on an
// executive line (two) run the whole shared call appearance scenario on
// deskgated; each phone must see exactly deskgateWants, a non-member is
// refused, a second seize of a taken appearance is 480 with Retry-After
// 1, the call out of the line carries the line's identity, and an unused
// seize ends with timeout. Then the same phones play the same scenario
// against Kamailio's sca module, and the appearance-state sequences each
// phone saw must be the same on both, except for scaDifferences.
func TestSippSCA(t *testing.T) {
	for _, lc := range []scaLine{departmentLine, executiveLine} {
		t.Run(lc.line, func(t *testing.T) {
			h := newHarnessOffice(t, scaOffice)
			ours := runSCA(t, deskgateSCA(h), lc)
			t.Logf("deskgated: appearance states per phone: %v", ours.states)
			checkDeskgateRun(t, lc, ours)
			h.stop()
			t.Run("kamailio", func(t *testing.T) {
				theirs := runSCA(t, kamailioSCA(t), lc)
				t.Logf("kamailio: appearance states per phone: %v", theirs.states)
				compareSCA(t, lc, ours, theirs)
			})
		})
	}
}

// scaDifferences are where deskgated deliberately differs from Kamailio
// 5.6's sca module (docs/decisions.md, "Shared call appearance"). Each
// names the sequence both must show, so a change on either side is seen.
var scaDifferences = []struct {
	index    int
	why      string
	deskgate []string
	kamailio [][]string // what Kamailio was seen to do, in any of its variants
}{
	{idxIncoming, "an incoming call alerts on every phone while it rings (Kamailio shows nothing until the ACK) " +
		"and the appearance is idle at the BYE (Kamailio keeps an answered incoming call active ~35 s)",
		[]string{"idle", "alerting", "active", "idle"}, [][]string{{"idle", "active"}}},
	{idxOutgoing, "a call retrieved from hold by another phone is active again on that phone " +
		"(Kamailio leaves the appearance held until the BYE; and, depending on timing, it reports the hold " +
		"re-INVITE as progressing until its 200)",
		[]string{"idle", "seized", "progressing", "active", "held", "active", "idle"},
		[][]string{{"idle", "seized", "progressing", "active", "held", "idle"},
			{"idle", "seized", "progressing", "active", "progressing", "held", "idle"}}},
}

// compareSCA checks that every phone saw the same appearance states on
// both servers but for scaDifferences, and the same answers to the second
// seize and the same end of an unused seize. A non-member's SUBSCRIBE is
// the one answer that differs: Kamailio has no notion of who is on a line
// and accepts it (202); deskgated refuses it (403).
func compareSCA(t *testing.T, lc scaLine, ours, theirs scaRun) {
	t.Helper()
	for _, m := range lc.members {
		for idx := range deskgateWants {
			got, want := theirs.states[m.name][idx], ours.states[m.name][idx]
			differs := false
			for _, d := range scaDifferences {
				if d.index != idx {
					continue
				}
				differs = true
				if !slices.Equal(want, d.deskgate) || !slices.ContainsFunc(d.kamailio, func(k []string) bool { return slices.Equal(got, k) }) {
					t.Errorf("%s, appearance %d: deskgated %v, Kamailio %v; the known difference (%s) is deskgated %v, "+
						"Kamailio %v", m.name, idx, want, got, d.why, d.deskgate, d.kamailio)
				}
			}
			if !differs && !slices.Equal(got, want) {
				t.Errorf("%s, appearance %d: deskgated %v, Kamailio %v", m.name, idx, want, got)
			}
		}
	}
	if theirs.outsider != "202" || ours.outsider != "403" {
		t.Errorf("non-member SUBSCRIBE: deskgated %q (want 403), Kamailio %q (want 202)", ours.outsider, theirs.outsider)
	}
	if ours.secondSeize != theirs.secondSeize {
		t.Errorf("second seize: deskgated %q, Kamailio %q", ours.secondSeize, theirs.secondSeize)
	}
	if ours.seizeEnd != theirs.seizeEnd {
		t.Errorf("end of an unused seize: deskgated %q, Kamailio %q", ours.seizeEnd, theirs.seizeEnd)
	}
}

func checkDeskgateRun(t *testing.T, lc scaLine, run scaRun) {
	t.Helper()
	for _, m := range lc.members {
		for idx, want := range deskgateWants {
			if got := run.states[m.name][idx]; !slices.Equal(got, want) {
				t.Errorf("%s saw appearance %d go %v, want %v", m.name, idx, got, want)
			}
		}
	}
	for _, m := range lc.members[1:] {
		if !run.cancelled[m.name] {
			t.Errorf("%s's phone was not CANCELled when %s answered", m.name, lc.members[0].name)
		}
	}
	if run.outsider != "403" {
		t.Errorf("non-member call-info SUBSCRIBE answered %q, want 403", run.outsider)
	}
	if run.secondSeize != "480 Retry-After: 1" {
		t.Errorf("second seize answered %q, want 480 with Retry-After: 1", run.secondSeize)
	}
	if want := `"` + lc.lineName + `" <sip:` + lc.line + `@test.example>`; run.calleeIdentity != want {
		t.Errorf("the call out of the line asserted %q, want %q", run.calleeIdentity, want)
	}
	if run.seizeEnd != "terminated;reason=timeout" {
		t.Errorf("unused seize ended %q", run.seizeEnd)
	}
}

// kamailioSCA starts Kamailio with its sca module (testdata/kamailio/
// sca.cfg) on a free loopback port and returns it as an scaServer; the
// test's cleanup stops it by PID. The test is skipped when Kamailio or
// sca.so is not installed.
func kamailioSCA(t *testing.T) scaServer {
	t.Helper()
	bin, err := exec.LookPath("kamailio")
	if err != nil {
		t.Skip("kamailio not on PATH (apt-get install kamailio): skipping the comparison")
	}
	if _, err := os.Stat(kamailioModule("sca.so")); err != nil {
		t.Skip("kamailio's sca module not installed: skipping the comparison")
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "db")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	// The sca module keeps its subscriptions in a database: an empty
	// db_text table (the schema Debian's kamailio ships) is enough.
	writeTo(t, filepath.Join(db, "version"), "id(int,auto) table_name(string) table_version(int) \n0:sca_subscriptions:2\n")
	writeTo(t, filepath.Join(db, "sca_subscriptions"), "id(int,auto) subscriber(string) aor(string) event(int) "+
		"expires(int) state(int) app_idx(int) call_id(string) from_tag(string) to_tag(string) record_route(string,null) "+
		"notify_cseq(int) subscribe_cseq(int) server_id(int) \n")
	cfg, err := filepath.Abs(filepath.Join("testdata", "kamailio", "sca.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	port := sipptest.FreePorts(t, 1)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	cmd := exec.Command(bin, "-f", cfg, "-DD", "-E", "-T", "-n", "2", "-l", "udp:"+addr,
		"-Y", dir, "-w", dir, "-A", `DBURL="text://`+db+`"`)
	var log logBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start kamailio: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		// -DD keeps the main process ours; it stops its children on TERM.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the group it was started in
			<-done
		}
		if t.Failed() {
			t.Logf("kamailio log:\n%s", log.String())
		}
	})
	// Ready once the socket is bound (we can no longer bind it).
	waitFor(t, 10*time.Second, "kamailio listening on "+addr, func() bool {
		select {
		case <-done:
			t.Fatalf("kamailio exited at start:\n%s", log.String())
		default:
		}
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	csv := func(t *testing.T, from string, port int) string {
		line := fmt.Sprintf("SEQUENTIAL\n%s;x;127.0.0.1:%d;[authentication username=%s password=x]\n", from, port, from)
		p := filepath.Join(t.TempDir(), "users.csv")
		writeTo(t, p, line)
		return p
	}
	return scaServer{
		name:   "kamailio",
		remote: addr,
		csv:    func(t *testing.T, m scaMember, from string, port int) string { return csv(t, from, port) },
		register: func(t *testing.T, m scaMember, line string, port int) {
			aor := cmpOr(line, m.ext)
			p := sipptest.Start(t, sipptest.Options{Name: "reg-" + m.name, Scenario: scenario("reg.xml"), Remote: addr,
				Inf: csv(t, aor, port), Keys: map[string]string{"expires": "300"}, Timeout: 10 * time.Second})
			if code := p.Wait(); code != 0 {
				t.Fatalf("register %s as %s on kamailio: sipp exit %d\n%s", m.name, aor, code, p.Output())
			}
		},
	}
}

// kamailioModule is where Debian installs a Kamailio module.
func kamailioModule(name string) string {
	return filepath.Join("/usr/lib/x86_64-linux-gnu/kamailio/modules", name)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// writeTo writes a test file.
func writeTo(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestSippSCARestart: appearance state lives with the calls, in memory;
// after a restart the resumed call-info subscriptions are NOTIFYed idle at
// once (no lamp stays lit), and a seize made before the restart is over:
// its line-seize subscription ends (noresource).
func TestSippSCARestart(t *testing.T) {
	h := newHarnessOffice(t, scaOffice)
	srv := deskgateSCA(h)
	olga, otto := departmentLine.members[0], departmentLine.members[2]
	key := scaPhone(t, srv, "olga-key", "call-info", olga, "2000", "2000", 0)
	seize := scaPhone(t, srv, "otto-seize", "line-seize", otto, "2000", "2000", 1)
	if !waitState(key, 1, "seized", 10*time.Second) {
		t.Fatal("the seize was not shown")
	}
	// No NOTIFY in flight when the daemon stops: one cut short by the stop
	// ends its subscription (the subscriber did not answer).
	waitFor(t, 10*time.Second, "the seizer's NOTIFY", func() bool { return len(seize.Received("NOTIFY")) > 0 })
	before := len(key.Received("NOTIFY"))
	h.restart()
	waitFor(t, 10*time.Second, "a NOTIFY after the restart", func() bool { return len(key.Received("NOTIFY")) > before })
	if !waitState(key, 1, "idle", 5*time.Second) {
		t.Errorf("after the restart the line shows %v", appearanceStates(key.Received("NOTIFY")))
	}
	waitFor(t, 10*time.Second, "the seize to end", func() bool {
		ns := seize.Received("NOTIFY")
		return len(ns) > 0 && first(ns[len(ns)-1].Header("Subscription-State")) == "terminated;reason=noresource"
	})
}
