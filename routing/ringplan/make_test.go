package ringplan

import (
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

const office = `
plan: pro
timezone: America/New_York
schedules:
  business:
    mon-fri: ["09:00-17:00"]
    closed_dates: ["2026-12-24"]
users:
  - id: jsmith
    name: John Smith
    extension: "1001"
    numbers: ["+15551230001"]
    license: talk
    no_answer: "sip:vm-1001@vm.example.test"
    ring_timeout: 20s
  - {id: mlee, name: Mary Lee, extension: "1002", license: talk}
  - {id: alice, name: Alice Ops, extension: "1003", license: talk}
  - {id: bob, name: Bob Ops, extension: "1004", license: talk}
  - id: carol
    name: Carol Hours
    extension: "1005"
    license: talk
    schedule: business
    closed: "sip:closed-1005@vm.example.test"
  - {id: dave, name: Dave Hours, extension: "1006", license: talk, schedule: business}
  - {id: erin, name: Erin Long, extension: "1007", license: talk, ring_timeout: 5m}
  - {id: pat, name: "", extension: "1008", license: talk}
  - id: hank
    name: Hank Hours
    extension: "1009"
    license: talk
    schedule: business
    closed: "sip:closed-1009@vm.example.test"
    no_answer: "sip:vm-1009@vm.example.test"
departments:
  - id: support
    name: Support
    extension: "2000"
    numbers: ["+15551232000"]
    operators: [alice, bob, jsmith]
    ring_timeout: 30s
    no_answer: "sip:vm-2000@vm.example.test"
  - id: sales
    name: Sales
    extension: "2100"
    operators: [alice]
    schedule: business
    closed: "sip:closed-2100@vm.example.test"
  - {id: empty, name: Empty, extension: "2200", operators: [bob]}
pairings:
  - {executive: jsmith, assistant: mlee, state: active}
  - {executive: jsmith, assistant: alice, state: active}
  - {executive: erin, assistant: bob, state: pending}
  - {executive: pat, assistant: bob, state: active}
  - {executive: hank, assistant: mlee, state: active}
`

// mapState is a State backed by maps.
type mapState struct {
	dnd      map[string]bool
	away     map[string][]string // user → department ids, "*" = all
	contacts map[string][]Contact
}

func (m mapState) DND(user string) bool { return m.dnd[user] }

func (m mapState) Away(user, dept string) bool {
	for _, d := range m.away[user] {
		if d == "*" || d == dept {
			return true
		}
	}
	return false
}

func (m mapState) Contacts(user string) []Contact { return m.contacts[user] }

func contact(user, ext, ip string) Contact {
	return Contact{User: user, URI: "sip:" + ext + "@" + ip + ":5060", Source: ip + ":5060", Transport: "udp"}
}

func registered() map[string][]Contact {
	return map[string][]Contact{
		"jsmith": {contact("jsmith", "1001", "10.0.0.1"), contact("jsmith", "1001", "10.0.0.11")},
		"mlee":   {contact("mlee", "1002", "10.0.0.2")},
		"alice":  {contact("alice", "1003", "10.0.0.3")},
		"bob":    {contact("bob", "1004", "10.0.0.4")},
		"carol":  {contact("carol", "1005", "10.0.0.5")},
		"dave":   {contact("dave", "1006", "10.0.0.6")},
		"erin":   {contact("erin", "1007", "10.0.0.7")},
		"pat":    {contact("pat", "1008", "10.0.0.8")},
		"hank":   {contact("hank", "1009", "10.0.0.9")},
	}
}

// makeCase is one call through Make and the plan it must give.
type makeCase struct {
	name  string
	dial  string
	call  Call // Target is filled from dial
	state mapState
	hour  int    // 0 = 10:00 (open hours)
	clock string // overrides hour: "15:04:05" on the same day, or "2006-01-02 15:04:05"
	want  string
}

// at is 25 November 2026 (a Wednesday) at hour:00 in the office's zone.
func at(t *testing.T, hour int) time.Time {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return time.Date(2026, 11, 25, hour, 0, 0, 0, loc)
}

// clock is "15:04:05" on 25 November 2026, or "2006-01-02 15:04:05", in
// the office's zone.
func clock(t *testing.T, s string) time.Time {
	t.Helper()
	loc := at(t, 0).Location()
	if len(s) == len("15:04:05") {
		s = "2026-11-25 " + s
	}
	v, err := time.ParseInLocation("2006-01-02 15:04:05", s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// aliceCall is a call from the trunk with a display name.
func aliceCall() Call {
	return Call{Caller: "", CallerDisplay: "Alice Caller", CallerNumber: "+15550100", Domain: "hq.example.test"}
}

// TestMakeUser covers calls to a user: own phones, assistants, DND, fallback and timeouts.
func TestMakeUser(t *testing.T) {
	runMake(t, []makeCase{
		{
			name: "user by extension rings own phones and active assistants",
			dial: "1001", call: aliceCall(),
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp
  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=jsmith display="Alice Caller for John Smith" history_info="<sip:1001@hq.example.test>;index=1,<sip:1002@hq.example.test>;index=1.1;mp=1"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp on_behalf_of=jsmith display="Alice Caller for John Smith" history_info="<sip:1001@hq.example.test>;index=1,<sip:1003@hq.example.test>;index=1.1;mp=1"`,
		},
		{
			name: "user by E.164 number dialled without plus, no domain: no History-Info",
			dial: "1-555-123-0001", call: Call{Caller: "bob", CallerNumber: "1004"},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp
  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=jsmith display="1004 for John Smith"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp on_behalf_of=jsmith display="1004 for John Smith"`,
		},
		{
			name: "assistant calling the executive does not ring herself",
			dial: "1001", call: Call{Caller: "mlee", CallerDisplay: "Mary Lee", Domain: "hq.example.test"},
			state: mapState{contacts: map[string][]Contact{"jsmith": {contact("jsmith", "1001", "10.0.0.1")}, "mlee": registered()["mlee"]}},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith; skipped alice (unregistered)"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp`,
		},
		{
			name: "executive in DND: only assistants ring",
			dial: "1001", call: aliceCall(),
			state: mapState{dnd: map[string]bool{"jsmith": true}, contacts: map[string][]Contact{"mlee": registered()["mlee"]}},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith; skipped jsmith (dnd), alice (unregistered)"
  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=jsmith display="Alice Caller for John Smith" history_info="<sip:1001@hq.example.test>;index=1,<sip:1002@hq.example.test>;index=1.1;mp=1"`,
		},
		{
			name: "assistant in DND is skipped",
			dial: "1001", call: aliceCall(),
			state: mapState{dnd: map[string]bool{"mlee": true, "alice": true}},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith; skipped mlee (dnd), alice (dnd)"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
		{
			name: "call via a department does not alert assistants",
			dial: "1001", call: Call{Caller: "", CallerDisplay: "X", ViaDepartment: "support"},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
		{
			name: "nobody registered with no_answer: fallback at once",
			dial: "1001", call: aliceCall(), state: mapState{contacts: map[string][]Contact{}},
			want: `redirect sip:vm-1001@vm.example.test why="user jsmith; skipped jsmith (unregistered), mlee (unregistered), alice (unregistered); nobody reachable"`,
		},
		{
			name: "nobody registered without no_answer: 480, default timeout unused",
			dial: "1002", call: aliceCall(), state: mapState{contacts: map[string][]Contact{}},
			want: `reject 480 "Temporarily Unavailable" why="user mlee; skipped mlee (unregistered); nobody reachable"`,
		},
		{
			name: "no ring_timeout: default 25s; pending pairing ignored; 5m kept",
			dial: "1007", call: aliceCall(),
			want: `fork timeout=5m0s why="user erin"
  branch user=erin contact=sip:1007@10.0.0.7:5060 source=10.0.0.7:5060 transport=udp`,
		},
		{
			name: "default ring timeout and executive without a name",
			dial: "1008", call: Call{CallerDisplay: "Q\"uote\\d", Domain: "hq.example.test"},
			want: `fork timeout=25s why="user pat"
  branch user=pat contact=sip:1008@10.0.0.8:5060 source=10.0.0.8:5060 transport=udp
  branch user=bob contact=sip:1004@10.0.0.4:5060 source=10.0.0.4:5060 transport=udp on_behalf_of=pat display="Quoted for 1008" history_info="<sip:1008@hq.example.test>;index=1,<sip:1004@hq.example.test>;index=1.1;mp=1"`,
		},
	})
}

// TestMakeDepartment covers department calls: operators filtered by away, DND and registration.
func TestMakeDepartment(t *testing.T) {
	runMake(t, []makeCase{
		{
			name: "department rings operators, skipping away, DND and unregistered",
			dial: "+15551232000", call: aliceCall(),
			state: mapState{
				away:     map[string][]string{"alice": {"sales"}, "bob": {"support"}},
				contacts: map[string][]Contact{"alice": registered()["alice"], "bob": registered()["bob"]},
			},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support; skipped bob (away), jsmith (unregistered)"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp`,
		},
		{
			name: "department: an operator who is an executive does not alert assistants",
			dial: "2000", call: Call{Caller: "alice"},
			state: mapState{dnd: map[string]bool{"bob": true}, contacts: registered()},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support; skipped bob (dnd)"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
		{
			name: "department with every operator away: no_answer at once",
			dial: "2000", call: aliceCall(),
			state: mapState{away: map[string][]string{"alice": {"*"}, "bob": {"*"}, "jsmith": {"support"}}, contacts: registered()},
			want:  `redirect sip:vm-2000@vm.example.test why="department support; skipped alice (away), bob (away), jsmith (away); nobody reachable"`,
		},
		{
			name: "department without no_answer and nobody available: 480",
			dial: "2200", call: aliceCall(), state: mapState{contacts: map[string][]Contact{}},
			want: `reject 480 "Temporarily Unavailable" why="department empty; skipped bob (unregistered); nobody reachable"`,
		},
		{
			name: "department closed",
			dial: "2100", call: aliceCall(), hour: 20,
			want: `redirect sip:closed-2100@vm.example.test why="department sales: closed hours"`,
		},
	})
}

// TestMakeGate covers the gate step: schedules, outside numbers, unknown targets and feature codes.
func TestMakeGate(t *testing.T) {
	runMake(t, []makeCase{
		{
			name: "closed hours go to closed, nothing rings",
			dial: "1005", call: aliceCall(), hour: 20,
			want: `redirect sip:closed-1005@vm.example.test why="user carol: closed hours"`,
		},
		{
			name: "open hours ring",
			dial: "1005", call: aliceCall(), hour: 10,
			want: `fork timeout=25s why="user carol"
  branch user=carol contact=sip:1005@10.0.0.5:5060 source=10.0.0.5:5060 transport=udp`,
		},
		{
			name: "closed without a closed destination: 480",
			dial: "1006", call: aliceCall(), hour: 20,
			want: `reject 480 "Temporarily Unavailable" why="user dave: closed hours, no closed destination"`,
		},
		{
			name: "outside number from a phone goes to the trunk",
			dial: "+1 (555) 010-0999", call: Call{Caller: "bob"},
			want: `trunk number=+15550100999 why="outside number +15550100999"`,
		},
		{
			name: "outside number from the trunk is refused",
			dial: "+15550100999", call: Call{Caller: ""},
			want: `reject 404 "Not Found" why="outside number +15550100999 from the trunk"`,
		},
		{
			name: "unknown target",
			dial: "jdoe", call: Call{Caller: "bob"},
			want: `reject 404 "Not Found" why="unknown target \"jdoe\""`,
		},
		{
			name: "empty target",
			dial: "", call: Call{Caller: "bob"},
			want: `reject 404 "Not Found" why="unknown target \"\""`,
		},
		{
			name: "feature code never forks",
			dial: "*78", call: Call{Caller: "bob"},
			want: `reject 404 "Not Found" why="feature code *78 reached the proxy"`,
		},
	})
}

func runMake(t *testing.T, tests []makeCase) {
	t.Helper()
	snap := directorytest.MustParse(t, office)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.state
			if st.contacts == nil {
				st.contacts = registered()
			}
			now := at(t, 10)
			if tt.hour != 0 {
				now = at(t, tt.hour)
			}
			if tt.clock != "" {
				now = clock(t, tt.clock)
			}
			call := tt.call
			call.Target = Classify(snap, tt.dial)
			if got := Make(snap, st, call, now).String(); got != tt.want {
				t.Errorf("Make(%q):\n got: %s\nwant: %s", tt.dial, got, tt.want)
			}
		})
	}
}

func TestMakeBoundsBranches(t *testing.T) {
	snap := directorytest.MustParse(t, office)
	var many []Contact
	for i := range MaxBranches + 10 {
		many = append(many, Contact{User: "jsmith", URI: "sip:1001@10.1.0." + string(rune('a'+i%26)) + strings.Repeat("x", i/26), Source: "10.1.0.1:5060"})
	}
	many = append(many, many[0]) // a duplicate is dropped
	st := mapState{contacts: map[string][]Contact{"jsmith": many}}
	p := Make(snap, st, Call{Target: Classify(snap, "1001")}, time.Now())
	if p.Action != ActionFork || len(p.Branches) != MaxBranches {
		t.Fatalf("got %v with %d branches, want fork with %d", p.Action, len(p.Branches), MaxBranches)
	}
	if p.Branches[0].Contact != many[0] || p.Branches[MaxBranches-1].Contact != many[MaxBranches-1] {
		t.Errorf("branches not kept in order")
	}
}

func TestMakeNilSnapshotAndState(t *testing.T) {
	snap := directorytest.MustParse(t, office)
	target := Classify(snap, "1001")
	if got := Make(snap, nil, Call{Target: target}, time.Now()); got.Action != ActionRedirect {
		t.Errorf("nil state: got %s, want a redirect to no_answer", got)
	}
	if got := Make(nil, mapState{}, Call{Target: Target{Kind: TargetUser}}, time.Now()); got.Action != ActionReject || got.Status != 404 {
		t.Errorf("user target without user: got %s, want reject 404", got)
	}
	if got := Make(nil, mapState{}, Call{Target: Target{Kind: TargetDepartment}}, time.Now()); got.Action != ActionReject || got.Status != 404 {
		t.Errorf("department target without department: got %s, want reject 404", got)
	}
}

func TestPlanStringZero(t *testing.T) {
	if got, want := (Plan{}).String(), "action(0)"; got != want {
		t.Errorf("zero plan = %q, want %q", got, want)
	}
	if got := (Plan{Action: ActionRedirect, Redirect: "sip:x@y", Timeout: time.Second}).String(); got != "redirect sip:x@y timeout=1s" {
		t.Errorf("redirect plan = %q", got)
	}
}

var _ State = mapState{}

func TestLimitsClamp(t *testing.T) {
	tests := []struct {
		name string
		t    Target
		want time.Duration
	}{
		{name: "zero user", t: Target{Kind: TargetUser, User: &directory.User{}}, want: DefaultRingTimeout},
		{name: "negative department", t: Target{Kind: TargetDepartment, Department: &directory.Department{RingTimeout: -1}}, want: DefaultRingTimeout},
		{name: "too long", t: Target{Kind: TargetUser, User: &directory.User{RingTimeout: directory.Duration(time.Hour)}}, want: MaxRingTimeout},
		{name: "kept", t: Target{Kind: TargetUser, User: &directory.User{RingTimeout: directory.Duration(7 * time.Second)}}, want: 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _, _ := limits(tt.t); got != tt.want {
				t.Errorf("limits = %v, want %v", got, tt.want)
			}
		})
	}
}

func BenchmarkMakeDepartment(b *testing.B) {
	snap := directorytest.MustParse(b, office)
	st := mapState{contacts: registered()}
	call := Call{Target: Classify(snap, "2000"), CallerDisplay: "X"}
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for b.Loop() {
		_ = Make(snap, st, call, now)
	}
}

func BenchmarkPickFinal(b *testing.B) {
	statuses := []int{487, 486, 480, 408, 503, 603}
	for b.Loop() {
		_ = PickFinal(statuses)
	}
}
