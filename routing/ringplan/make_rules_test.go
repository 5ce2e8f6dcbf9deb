package ringplan

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory/directorytest"
)

// TestMakeDepartmentRules: issue rule 1 (departments), one row per rule.
func TestMakeDepartmentRules(t *testing.T) {
	runMake(t, []makeCase{
		{
			name: "every available operator's phones ring at once, with the department's timeout and no_answer",
			dial: "2000", call: aliceCall(),
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp
  branch user=bob contact=sip:1004@10.0.0.4:5060 source=10.0.0.4:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
		{
			name: "away from all departments is skipped",
			dial: "2000", call: aliceCall(), state: mapState{away: map[string][]string{"bob": {"*"}}},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support; skipped bob (away)"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
		{
			name: "away from another department only still rings",
			dial: "2000", call: aliceCall(), state: mapState{away: map[string][]string{"alice": {"sales"}}},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp
  branch user=bob contact=sip:1004@10.0.0.4:5060 source=10.0.0.4:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
		{
			name: "an operator of several departments is rung for each: support",
			dial: "+15551232000", call: aliceCall(), state: mapState{contacts: map[string][]Contact{"alice": registered()["alice"]}},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support; skipped bob (unregistered), jsmith (unregistered)"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp`,
		},
		{
			name: "an operator of several departments is rung for each: sales",
			dial: "2100", call: aliceCall(), state: mapState{contacts: map[string][]Contact{"alice": registered()["alice"]}},
			want: `fork timeout=25s why="department sales"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp`,
		},
		{
			name: "away from support does not silence sales",
			dial: "2100", call: aliceCall(), state: mapState{away: map[string][]string{"alice": {"support"}}},
			want: `fork timeout=25s why="department sales"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp`,
		},
		{
			name: "operator calling the own department is not rung",
			dial: "2000", call: Call{Caller: "bob", CallerNumber: "1004"},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
	})
}

// TestMakeAssistantRules: issue rule 2 (executive-assistant forking).
func TestMakeAssistantRules(t *testing.T) {
	runMake(t, []makeCase{
		{
			name: "trunk call to the executive's number, transferred in by an upstream auto receptionist",
			dial: "+15551230001", call: Call{CallerDisplay: "Auto Receptionist: Alice Caller", CallerNumber: "+15550100", Domain: "hq.example.test"},
			state: mapState{contacts: map[string][]Contact{"jsmith": registered()["jsmith"][:1], "mlee": registered()["mlee"]}},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith; skipped alice (unregistered)"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=jsmith display="Auto Receptionist: Alice Caller for John Smith" history_info="<sip:1001@hq.example.test>;index=1,<sip:1002@hq.example.test>;index=1.1;mp=1"`,
		},
		{
			name: "phone call to the executive: display from the caller's number when no name",
			dial: "1001", call: Call{Caller: "dave", CallerNumber: "1006", Domain: "hq.example.test"},
			state: mapState{contacts: map[string][]Contact{"mlee": registered()["mlee"]}},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith; skipped jsmith (unregistered), alice (unregistered)"
  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=jsmith display="1006 for John Smith" history_info="<sip:1001@hq.example.test>;index=1,<sip:1002@hq.example.test>;index=1.1;mp=1"`,
		},
		{
			name: "pending pairing has no effect",
			dial: "1007", call: aliceCall(), state: mapState{contacts: map[string][]Contact{"erin": registered()["erin"], "bob": registered()["bob"]}},
			want: `fork timeout=5m0s why="user erin"
  branch user=erin contact=sip:1007@10.0.0.7:5060 source=10.0.0.7:5060 transport=udp`,
		},
		{
			name: "executive closed hours: closed, assistants not rung",
			dial: "1009", call: aliceCall(), hour: 18,
			want: `redirect sip:closed-1009@vm.example.test why="user hank: closed hours"`,
		},
		{
			name: "executive in DND and every assistant unavailable: no_answer at once",
			dial: "1009", call: aliceCall(), state: mapState{dnd: map[string]bool{"hank": true, "mlee": true}},
			want: `redirect sip:vm-1009@vm.example.test why="user hank; skipped hank (dnd), mlee (dnd); nobody reachable"`,
		},
		{
			name: "executive unregistered: only assistants ring, for the executive's timeout",
			dial: "1009", call: aliceCall(), state: mapState{contacts: map[string][]Contact{"mlee": registered()["mlee"]}},
			want: `fork timeout=25s fallback=sip:vm-1009@vm.example.test why="user hank; skipped hank (unregistered)"
  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=hank display="Alice Caller for Hank Hours" history_info="<sip:1009@hq.example.test>;index=1,<sip:1002@hq.example.test>;index=1.1;mp=1"`,
		},
	})
}

// TestMakeCombinations: people with several roles and several states.
func TestMakeCombinations(t *testing.T) {
	runMake(t, []makeCase{
		{
			name: "assistant who is also an operator, away from all departments, still rings for the executive",
			dial: "1001", call: aliceCall(), state: mapState{away: map[string][]string{"alice": {"*"}}},
			want: `fork timeout=20s fallback=sip:vm-1001@vm.example.test why="user jsmith"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp
  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=jsmith display="Alice Caller for John Smith" history_info="<sip:1001@hq.example.test>;index=1,<sip:1002@hq.example.test>;index=1.1;mp=1"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp on_behalf_of=jsmith display="Alice Caller for John Smith" history_info="<sip:1001@hq.example.test>;index=1,<sip:1003@hq.example.test>;index=1.1;mp=1"`,
		},
		{
			name: "assistant who is also an operator rings as operator on a department call, no display rewrite",
			dial: "2100", call: aliceCall(),
			want: `fork timeout=25s why="department sales"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp`,
		},
		{
			name: "operator who is also an executive, in DND: skipped, and the executive's assistants are not rung instead",
			dial: "2000", call: aliceCall(), state: mapState{dnd: map[string]bool{"jsmith": true}},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support; skipped jsmith (dnd)"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp
  branch user=bob contact=sip:1004@10.0.0.4:5060 source=10.0.0.4:5060 transport=udp`,
		},
		{
			name: "DND and away together: skipped once, as DND",
			dial: "2000", call: aliceCall(), state: mapState{dnd: map[string]bool{"alice": true}, away: map[string][]string{"alice": {"support"}, "bob": {"*"}}},
			want: `fork timeout=30s fallback=sip:vm-2000@vm.example.test why="department support; skipped alice (dnd), bob (away)"
  branch user=jsmith contact=sip:1001@10.0.0.1:5060 source=10.0.0.1:5060 transport=udp
  branch user=jsmith contact=sip:1001@10.0.0.11:5060 source=10.0.0.11:5060 transport=udp`,
		},
		{
			name: "away but not DND: a direct call still rings (away is for departments only)",
			dial: "1003", call: aliceCall(), state: mapState{away: map[string][]string{"alice": {"*"}}},
			want: `fork timeout=25s why="user alice"
  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp`,
		},
		{
			name: "DND without away: a direct call rings nobody",
			dial: "1003", call: aliceCall(), state: mapState{dnd: map[string]bool{"alice": true}},
			want: `reject 480 "Temporarily Unavailable" why="user alice; skipped alice (dnd); nobody reachable"`,
		},
	})
}

// TestMakeScheduleEdges: opening hours are [09:00, 17:00) in the office's
// zone, closed dates all day.
func TestMakeScheduleEdges(t *testing.T) {
	open := "fork timeout=25s fallback=sip:vm-1009@vm.example.test why=\"user hank\"\n" +
		"  branch user=hank contact=sip:1009@10.0.0.9:5060 source=10.0.0.9:5060 transport=udp\n" +
		"  branch user=mlee contact=sip:1002@10.0.0.2:5060 source=10.0.0.2:5060 transport=udp on_behalf_of=hank display=\"Alice Caller for Hank Hours\" history_info=\"<sip:1009@hq.example.test>;index=1,<sip:1002@hq.example.test>;index=1.1;mp=1\""
	closed := `redirect sip:closed-1009@vm.example.test why="user hank: closed hours"`
	deptOpen := "fork timeout=25s why=\"department sales\"\n" +
		"  branch user=alice contact=sip:1003@10.0.0.3:5060 source=10.0.0.3:5060 transport=udp"
	deptClosed := `redirect sip:closed-2100@vm.example.test why="department sales: closed hours"`
	runMake(t, []makeCase{
		{name: "one second before opening", dial: "1009", call: aliceCall(), clock: "08:59:59", want: closed},
		{name: "at opening", dial: "1009", call: aliceCall(), clock: "09:00:00", want: open},
		{name: "one second before closing", dial: "1009", call: aliceCall(), clock: "16:59:59", want: open},
		{name: "at closing", dial: "1009", call: aliceCall(), clock: "17:00:00", want: closed},
		{name: "closed date at noon", dial: "1009", call: aliceCall(), clock: "2026-12-24 12:00:00", want: closed},
		{name: "day after the closed date", dial: "1009", call: aliceCall(), clock: "2026-12-25 12:00:00", want: open},
		{name: "saturday", dial: "1009", call: aliceCall(), clock: "2026-11-28 12:00:00", want: closed},
		{name: "department at opening", dial: "2100", call: aliceCall(), clock: "09:00:00", want: deptOpen},
		{name: "department at closing", dial: "2100", call: aliceCall(), clock: "17:00:00", want: deptClosed},
	})
}

// TestMakeFullDepartment: 25 operators (the maximum) with two phones each
// ring as 50 branches at once; away, DND and unregistered operators drop out.
func TestMakeFullDepartment(t *testing.T) {
	var b strings.Builder
	b.WriteString("plan: pro\ntimezone: UTC\nusers:\n")
	var ops []string
	contacts := map[string][]Contact{}
	for i := range 25 {
		id := fmt.Sprintf("op%02d", i)
		ops = append(ops, id)
		fmt.Fprintf(&b, "  - {id: %s, name: Op %d, extension: \"3%03d\", license: talk}\n", id, i, i)
		contacts[id] = []Contact{
			contact(id, fmt.Sprintf("3%03d", i), fmt.Sprintf("10.2.%d.1", i)),
			contact(id, fmt.Sprintf("3%03d", i), fmt.Sprintf("10.2.%d.2", i)),
		}
	}
	fmt.Fprintf(&b, "departments:\n  - {id: big, name: Big, extension: \"4000\", ring_timeout: 40s, operators: [%s]}\n", strings.Join(ops, ", "))
	snap := directorytest.MustParse(t, b.String())
	tests := []struct {
		name         string
		state        mapState
		wantBranches int
		wantSkipped  string
	}{
		{name: "all 25 operators, 2 phones each", state: mapState{contacts: contacts}, wantBranches: 50},
		{name: "away, DND and unregistered drop out", wantBranches: 44, wantSkipped: "skipped op00 (away), op01 (dnd), op02 (unregistered)",
			state: mapState{contacts: contacts, away: map[string][]string{"op00": {"big"}}, dnd: map[string]bool{"op01": true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := tt.state
			if tt.wantSkipped != "" {
				st.contacts = map[string][]Contact{}
				for k, v := range contacts {
					if k != "op02" {
						st.contacts[k] = v
					}
				}
			}
			p := Make(snap, st, Call{Target: Classify(snap, "4000"), CallerDisplay: "X"}, time.Now())
			if p.Action != ActionFork || len(p.Branches) != tt.wantBranches || p.Timeout != 40*time.Second {
				t.Fatalf("got %s with %d branches, want fork with %d and 40s", p.Action, len(p.Branches), tt.wantBranches)
			}
			per := map[string]int{}
			for _, br := range p.Branches {
				per[br.User]++
				if br.DisplayName != "" || br.HistoryInfo != "" || br.OnBehalfOf != "" {
					t.Errorf("operator branch rewritten: %s", br)
				}
			}
			for _, id := range ops {
				if n := per[id]; n != 0 && n != 2 {
					t.Errorf("%s rings on %d phones, want all 2", id, n)
				}
			}
			if !strings.Contains(p.Why, tt.wantSkipped) {
				t.Errorf("why %q, want %q", p.Why, tt.wantSkipped)
			}
		})
	}
}
