package presence

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
)

const office = `
plan: pro
timezone: UTC
users:
  - {id: alice, name: Alice Ops, extension: "1003", license: talk}
  - {id: bob, name: Bob Ops, extension: "1004", license: talk}
departments:
  - {id: support, name: Support, extension: "2000", operators: [alice, bob]}
  - {id: sales, name: Sales, extension: "2100", operators: [alice]}
  - {id: billing, name: Billing, extension: "2200", operators: [bob]}
`

func TestParseFeature(t *testing.T) {
	snap := directorytest.MustParse(t, office)
	custom := Codes{DNDOn: "*1", DNDOff: "*10", AwayOn: "*4", AwayOff: "*44"}
	tests := []struct {
		name    string
		codes   Codes
		user    string
		dialled string
		want    string
	}{
		{name: "dnd on", user: "alice", dialled: "*78", want: "DND on"},
		{name: "dnd off", user: "alice", dialled: "*79", want: "DND off"},
		{name: "trailing hash ignored", user: "alice", dialled: "*78#", want: "DND on"},
		{name: "away from all", user: "alice", dialled: "*45", want: "Away on"},
		{name: "back for all", user: "alice", dialled: "*46", want: "Away off"},
		{name: "away from one department", user: "alice", dialled: "*452000", want: "Away on support"},
		{name: "back for one department", user: "alice", dialled: "*462100", want: "Away off sales"},
		{name: "department the user does not operate", user: "alice", dialled: "*452200", want: "403 Not An Operator Of billing"},
		{name: "a user's extension is no department", user: "alice", dialled: "*451004", want: "404 Unknown Department"},
		{name: "unknown extension", user: "alice", dialled: "*459999", want: "404 Unknown Department"},
		{name: "unknown code", user: "alice", dialled: "*99", want: "404 Unknown Feature Code"},
		{name: "dnd code with a suffix is unknown", user: "alice", dialled: "*782000", want: "404 Unknown Feature Code"},
		{name: "empty", user: "alice", dialled: "", want: "404 Unknown Feature Code"},
		{name: "too long", user: "alice", dialled: "*45" + strings.Repeat("1", 40), want: "404 Unknown Feature Code"},
		{name: "unknown user", user: "mallory", dialled: "*78", want: "403 Unknown User"},
		{name: "custom codes: exact match beats prefix", codes: custom, user: "bob", dialled: "*10", want: "DND off"},
		{name: "custom codes: longest away prefix wins", codes: custom, user: "bob", dialled: "*442200", want: "Away off billing"},
		{name: "custom codes: shorter away prefix", codes: custom, user: "bob", dialled: "*42200", want: "Away on billing"},
		{name: "custom codes: defaults no longer apply", codes: custom, user: "bob", dialled: "*78", want: "404 Unknown Feature Code"},
		{name: "partial codes take defaults", codes: Codes{DNDOn: "*1"}, user: "bob", dialled: "*79", want: "DND off"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ParseFeature(snap, tt.codes, tt.user, tt.dialled)
			got := f.Op.Phrase()
			if f.Status != 0 {
				got = fmt.Sprintf("%d %s", f.Status, f.Reason)
			}
			if got != tt.want {
				t.Errorf("ParseFeature(%q) = %q, want %q", tt.dialled, got, tt.want)
			}
		})
	}
	if f := ParseFeature(nil, Codes{}, "alice", "*78"); f.Status != 503 {
		t.Errorf("without a directory: %+v, want 503", f)
	}
}

func TestApply(t *testing.T) {
	depts := []string{"sales", "support"}
	tests := []struct {
		name     string
		dnd      bool
		away     []string
		op       Op
		wantDND  bool
		wantAway []string
	}{
		{name: "dnd on", op: Op{Kind: KindDND, On: true}, wantDND: true},
		{name: "dnd off keeps away", dnd: true, away: []string{"sales"}, op: Op{Kind: KindDND}, wantAway: []string{"sales"}},
		{name: "dnd on keeps away", away: []string{"*"}, op: Op{Kind: KindDND, On: true}, wantDND: true, wantAway: []string{"*"}},
		{name: "away from all", away: []string{"sales"}, op: Op{Kind: KindAway, On: true}, wantAway: []string{"*"}},
		{name: "back for all clears departments", away: []string{"sales", "support"}, op: Op{Kind: KindAway}},
		{name: "away from one, sorted", away: []string{"support"}, op: Op{Kind: KindAway, On: true, Department: "sales"}, wantAway: []string{"sales", "support"}},
		{name: "away twice from one", away: []string{"sales"}, op: Op{Kind: KindAway, On: true, Department: "sales"}, wantAway: []string{"sales"}},
		{name: "away from one while away from all", away: []string{"*"}, op: Op{Kind: KindAway, On: true, Department: "sales"}, wantAway: []string{"*"}},
		{name: "back for one", away: []string{"sales", "support"}, op: Op{Kind: KindAway, Department: "sales"}, wantAway: []string{"support"}},
		{name: "back for one while away from all: away from the others", away: []string{"*"}, op: Op{Kind: KindAway, Department: "sales"}, wantAway: []string{"support"}},
		{name: "back for one when not away", op: Op{Kind: KindAway, Department: "sales"}},
		{name: "dnd and away together", dnd: true, away: []string{"support"}, op: Op{Kind: KindAway, On: true}, wantDND: true, wantAway: []string{"*"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := store.Presence{User: "alice", DND: tt.dnd, Away: slices.Clone(tt.away)}
			got := Apply(in, tt.op, depts)
			if got.DND != tt.wantDND || !slices.Equal(got.Away, tt.wantAway) || got.User != "alice" {
				t.Errorf("Apply(%+v, %+v) = %+v, want dnd=%v away=%q", in, tt.op, got, tt.wantDND, tt.wantAway)
			}
			if !slices.Equal(in.Away, tt.away) {
				t.Errorf("input modified: %q", in.Away)
			}
		})
	}
}

func TestPhrase(t *testing.T) {
	tests := []struct {
		op   Op
		want string
	}{
		{Op{Kind: KindDND, On: true}, "DND on"},
		{Op{Kind: KindDND}, "DND off"},
		{Op{Kind: KindAway, On: true}, "Away on"},
		{Op{Kind: KindAway}, "Away off"},
		{Op{Kind: KindAway, On: true, Department: "support"}, "Away on support"},
		{Op{}, "no change"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.op.Phrase(); got != tt.want {
				t.Errorf("Phrase(%+v) = %q, want %q", tt.op, got, tt.want)
			}
		})
	}
}

func FuzzParseFeature(f *testing.F) {
	snap := directorytest.MustParse(f, office)
	for _, s := range []string{"*78", "*79", "*45", "*46", "*452000", "*462100#", "*45*", "", "#", "*4520000000000000000000000000000000", "*\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dialled string) {
		got := ParseFeature(snap, Codes{}, "alice", dialled)
		switch {
		case got.Status == 0 && got.Op.Kind != KindDND && got.Op.Kind != KindAway:
			t.Fatalf("%q: no status and no op: %+v", dialled, got)
		case got.Status != 0 && (got.Status < 400 || got.Status > 599 || got.Reason == ""):
			t.Fatalf("%q: bad refusal %+v", dialled, got)
		case got.Op.Department != "" && got.Op.Department != "support" && got.Op.Department != "sales":
			t.Fatalf("%q: department %q alice does not operate", dialled, got.Op.Department)
		}
	})
}
