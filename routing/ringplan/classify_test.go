package ringplan

import (
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory/directorytest"
)

func TestClassify(t *testing.T) {
	snap := directorytest.MustParse(t, office)
	tests := []struct {
		name, dial string
		kind       TargetKind
		id, number string
	}{
		{name: "extension", dial: "1001", kind: TargetUser, id: "jsmith", number: "1001"},
		{name: "E.164", dial: "+15551230001", kind: TargetUser, id: "jsmith", number: "+15551230001"},
		{name: "escaped plus", dial: "%2B15551230001", kind: TargetUser, id: "jsmith", number: "+15551230001"},
		{name: "without plus", dial: "15551230001", kind: TargetUser, id: "jsmith", number: "+15551230001"},
		{name: "visual separators", dial: "+1 555-123.0001", kind: TargetUser, id: "jsmith", number: "+15551230001"},
		{name: "department extension", dial: "2000", kind: TargetDepartment, id: "support", number: "2000"},
		{name: "department number", dial: "+15551232000", kind: TargetDepartment, id: "support", number: "+15551232000"},
		{name: "outside", dial: "+4930123456", kind: TargetOutside, number: "+4930123456"},
		{name: "outside national", dial: "0301234567", kind: TargetOutside, number: "0301234567"},
		{name: "feature code", dial: "*452000", kind: TargetFeature, number: "*452000"},
		{name: "spaces trimmed", dial: " 1002 ", kind: TargetUser, id: "mlee", number: "1002"},
		{name: "empty", dial: "", kind: TargetUnknown},
		{name: "letters", dial: "jsmith", kind: TargetUnknown, number: "jsmith"},
		{name: "plus inside", dial: "1+2", kind: TargetUnknown, number: "1+2"},
		{name: "only plus", dial: "+", kind: TargetUnknown, number: "+"},
		{name: "bad escape kept", dial: "%zz1", kind: TargetUnknown, number: "%zz1"},
		{name: "too long", dial: strings.Repeat("1", 33), kind: TargetUnknown, number: strings.Repeat("1", 33)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Classify(snap, tt.dial)
			var id string
			switch {
			case got.User != nil:
				id = got.User.ID
			case got.Department != nil:
				id = got.Department.ID
			}
			if got.Kind != tt.kind || id != tt.id || got.Number != tt.number {
				t.Errorf("Classify(%q) = %v %q number=%q, want %v %q number=%q",
					tt.dial, got.Kind, id, got.Number, tt.kind, tt.id, tt.number)
			}
		})
	}
}

func FuzzClassify(f *testing.F) {
	snap := directorytest.MustParse(f, office)
	for _, s := range []string{"1001", "+15551230001", "%2B1555", "*45", "", "1-800-FLOWERS", "%", "%2", "++1", "(555) 010 0999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Classify(snap, s)
		switch got.Kind {
		case TargetOutside:
			if _, ok := dialable(got.Number); !ok {
				t.Errorf("outside number %q is not dialable", got.Number)
			}
		case TargetUser:
			if got.User == nil {
				t.Error("user target without user")
			}
		case TargetDepartment:
			if got.Department == nil {
				t.Error("department target without department")
			}
		}
		// every target must yield a plan without panicking
		_ = Make(snap, mapState{contacts: registered()}, Call{Target: got, Caller: "bob"}, time.Unix(0, 0)).String()
	})
}
