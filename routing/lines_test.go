package routing

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"deskgate/routing/events"
	"deskgate/routing/fork"
	"deskgate/routing/ringplan"
)

// lineStep is one thing that happens to the call "c1": a fork event of a
// branch of user ext ("" for none), or a BYE.
type lineStep struct {
	kind   fork.EventKind // 0 = BYE
	ext    string
	toTag  string
	result string // EventEnded: the outcome's result
	status int
	cancel bool
}

func TestLineTable(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	call := func(target string) lineCall {
		return lineCall{callID: "c1", callerExt: []string{"1002"}, targetExt: target,
			caller: events.Participant{Identity: "sip:1002@hq", Display: "Bob"},
			callee: events.Participant{Identity: "sip:" + target + "@hq"}, fromTag: "ft"}
	}
	ring := func(ext, tag string) lineStep { return lineStep{kind: fork.EventRinging, ext: ext, toTag: tag} }
	tests := []struct {
		name   string
		target string
		steps  []lineStep
		want   map[string]string // extension → rendered dialogs (state/direction[/event/code])
	}{
		{name: "just started: only the caller shows it", target: "1010",
			want: map[string]string{"1002": "trying/initiator", "1010": ""}},
		{name: "ringing", target: "1010", steps: []lineStep{ring("1010", "tt")},
			want: map[string]string{"1002": "early/initiator", "1010": "early/recipient"}},
		{name: "answered", target: "1010", steps: []lineStep{ring("1010", "tt"), {kind: fork.EventAnswered, ext: "1010", toTag: "tt"}},
			want: map[string]string{"1002": "confirmed/initiator", "1010": "confirmed/recipient"}},
		{name: "hung up", target: "1010", steps: []lineStep{ring("1010", "tt"), {kind: fork.EventAnswered, ext: "1010"},
			{kind: fork.EventEnded, result: fork.ResultAnswered, status: 200}, {kind: 0}},
			want: map[string]string{"1002": "terminated/initiator", "1010": "terminated/recipient"}},
		{name: "assistant rings too, the executive answers", target: "1010",
			steps: []lineStep{ring("1010", "a"), ring("1011", "b"), {kind: fork.EventAnswered, ext: "1010", toTag: "a"}},
			want:  map[string]string{"1010": "confirmed/recipient", "1011": "terminated/recipient"}},
		{name: "the assistant answers for the executive", target: "1010",
			steps: []lineStep{ring("1010", "a"), ring("1011", "b"), {kind: fork.EventAnswered, ext: "1011", toTag: "b"}},
			want:  map[string]string{"1010": "confirmed/recipient", "1011": "confirmed/recipient"}},
		{name: "department: one operator's branch ends, the other still rings", target: "2000",
			steps: []lineStep{ring("1020", "a"), ring("1021", "b"), {kind: fork.EventBranchEnded, ext: "1020", status: 486}},
			want:  map[string]string{"2000": "early/recipient", "1020": "terminated/recipient", "1021": "early/recipient"}},
		{name: "caller hung up while ringing", target: "1010",
			steps: []lineStep{ring("1010", "a"), {kind: fork.EventEnded, status: 487, cancel: true, result: fork.ResultMissed}},
			want:  map[string]string{"1010": "terminated/recipient/cancelled", "1002": "terminated/initiator/cancelled"}},
		{name: "busy", target: "1010",
			steps: []lineStep{ring("1010", "a"), {kind: fork.EventEnded, status: 486, result: fork.ResultDeclined}},
			want:  map[string]string{"1010": "terminated/recipient/rejected/486"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lt := newLineTable()
			lt.start(call(tt.target), t0)
			// Every extension whose rendered dialogs change in a step must
			// be among those the step returns (they get a NOTIFY).
			exts := []string{"1002", tt.target}
			for _, st := range tt.steps {
				if st.ext != "" {
					exts = append(exts, st.ext)
				}
			}
			views := func() map[string]string {
				m := map[string]string{}
				for _, ext := range exts {
					b, err := json.Marshal(lt.dialogs(ext, "hq", true))
					if err != nil {
						t.Fatal(err)
					}
					m[ext] = string(b)
				}
				return m
			}
			for n, st := range tt.steps {
				before := views()
				var changed []string
				if st.kind == 0 {
					changed = lt.end("c1", "", t0)
				} else {
					ev := fork.Event{Kind: st.kind, CallID: "c1", Status: st.status, ToTag: st.toTag,
						Branch:  ringplan.Branch{User: "u" + st.ext},
						Outcome: fork.Outcome{Result: st.result, Status: st.status, Cancelled: st.cancel}}
					changed = lt.event(ev, st.ext, t0)
				}
				for ext, v := range views() {
					if v != before[ext] && !slices.Contains(changed, ext) {
						t.Errorf("step %d changed extension %s's dialogs but returned only %v", n, ext, changed)
					}
				}
			}
			for ext, want := range tt.want {
				var got []string
				for _, d := range lt.dialogs(ext, "hq", true) {
					s := d.State + "/" + d.Direction
					if d.Event != "" {
						s += "/" + d.Event
					}
					if d.Code != 0 {
						s += "/" + strconv.Itoa(d.Code)
					}
					got = append(got, s)
				}
				if g := strings.Join(got, " "); g != want {
					t.Errorf("extension %s shows %q, want %q", ext, g, want)
				}
			}
		})
	}
}

func TestLineDialogDetail(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	lt := newLineTable()
	lt.start(lineCall{callID: "c9", callerExt: []string{"1002"}, targetExt: "1010", fromTag: "ft",
		caller: events.Participant{Identity: "sip:1002@hq", Display: "Bob", Target: "sip:1002@10.0.0.2"}}, t0)
	lt.event(fork.Event{Kind: fork.EventRinging, CallID: "c9", ToTag: "tt"}, "1010", t0)
	in := lt.dialogs("1010", "hq", true)
	out := lt.dialogs("1010", "hq", false)
	if len(in) != 1 || len(out) != 1 {
		t.Fatalf("dialogs %v / %v", in, out)
	}
	d := in[0]
	if d.CallID != "c9" || d.LocalTag != "tt" || d.RemoteTag != "ft" || d.Remote == nil || d.Remote.Display != "Bob" ||
		d.Remote.Target != "sip:1002@10.0.0.2" || d.Local == nil || d.Local.Identity != "sip:1010@hq" {
		t.Errorf("insider's dialog %+v", d)
	}
	if o := out[0]; o.CallID != "" || o.LocalTag != "" || o.RemoteTag != "" || o.Remote != nil || o.State != events.StateEarly {
		t.Errorf("outsider's dialog %+v, want state only", o)
	}
	if c, ok := lt.ringingCall("c9"); !ok || c.toTag != "tt" {
		t.Errorf("ringingCall = %+v, %v", c, ok)
	}
	// Ended calls linger, then go.
	changed := lt.end("c9", "", t0)
	if !slices.Equal(changed, []string{"1002", "1010"}) {
		t.Errorf("end changed %q", changed)
	}
	if got := lt.sweep(t0.Add(lineLinger)); len(got) != 0 {
		t.Errorf("swept before the linger: %q", got)
	}
	if got := lt.sweep(t0.Add(lineLinger + time.Second)); !slices.Equal(got, []string{"1002", "1010"}) {
		t.Errorf("sweep after the linger changed %q", got)
	}
	if n := len(lt.dialogs("1010", "hq", true)); n != 0 {
		t.Errorf("%d dialogs after the sweep", n)
	}
}

// TestLineEventNotifiesOnlyTheBranch: in a 25-operator department each
// operator's ringing and end concern that operator's lamp alone; only the
// call's own changes (first ring, answer, end) concern every extension.
func TestLineEventNotifiesOnlyTheBranch(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	lt := newLineTable()
	lt.start(lineCall{callID: "c1", callerExt: []string{"1999"}, targetExt: "2000"}, t0)
	total := 0
	for i := range 25 {
		ext := strconv.Itoa(1001 + i)
		got := lt.event(fork.Event{Kind: fork.EventRinging, CallID: "c1", ToTag: "t"}, ext, t0)
		if i > 0 && !slices.Equal(got, []string{ext}) {
			t.Fatalf("ring of %s returned %v, want only %s", ext, got, ext)
		}
		total += len(got)
	}
	for i := range 24 {
		ext := strconv.Itoa(1001 + i)
		if got := lt.event(fork.Event{Kind: fork.EventBranchEnded, CallID: "c1"}, ext, t0); !slices.Equal(got, []string{ext}) {
			t.Fatalf("end of %s's branch returned %v, want only %s", ext, got, ext)
		}
		total++
	}
	// The first ring changes the call for the caller and the department too.
	if want := 3 + 24 + 24; total != want {
		t.Errorf("%d notifications for 25 rings and 24 ends, want %d", total, want)
	}
}
