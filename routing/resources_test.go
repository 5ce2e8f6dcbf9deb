package routing

import (
	"testing"

	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
	"deskgate/routing/events"
)

func TestResolveResource(t *testing.T) {
	snap := directorytest.MustParse(t, keysOffice)
	tests := []struct {
		name, pkg, subscriber, ruser string
		key                          string
		code                         int
	}{
		{"own DND by extension", events.PackageFeature, "erin", "1010", "dnd:erin", 0},
		{"own DND by number", events.PackageFeature, "erin", "+15551230010", "dnd:erin", 0},
		{"own DND by id", events.PackageFeature, "erin", "erin", "dnd:erin", 0},
		{"assistant on the executive's DND", events.PackageFeature, "amy", "1010", "", 403},
		{"DND of a department", events.PackageFeature, "olga", "2000", "", 404},
		{"BLF on a user by number", events.PackageDialog, "bob", "+15551230010", "line:1010", 0},
		{"BLF on a department", events.PackageDialog, "bob", "2100", "line:2100", 0},
		{"BLF on nothing", events.PackageDialog, "bob", "5555", "", 404},
		{"away one department", events.PackageDialog, "alice", "away-2100", "away:sales", 0},
		{"away, case-insensitive", events.PackageDialog, "alice", "AWAY-2100", "away:sales", 0},
		{"away from a department not operated", events.PackageDialog, "alice", "away-2000", "", 403},
		{"away all", events.PackageDialog, "olga", "away", "away:" + store.AwayAll, 0},
		{"away all without departments", events.PackageDialog, "erin", "away", "", 403},
		{"away from a user's extension", events.PackageDialog, "olga", "away-1010", "", 404},
		{"unserved package", "presence", "olga", "1010", "", 489},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resolveResource(snap, tt.pkg, tt.subscriber, tt.ruser)
			if r.key != tt.key || r.st.Code != tt.code {
				t.Errorf("got %q/%d (%s), want %q/%d", r.key, r.st.Code, r.st.Reason, tt.key, tt.code)
			}
		})
	}
}

func TestAwayLit(t *testing.T) {
	snap := directorytest.MustParse(t, keysOffice)
	tests := []struct {
		name string
		away []string
		dept string
		want bool
	}{
		{"not away", nil, "support", false},
		{"away from that department", []string{"support"}, "support", true},
		{"away from the other one", []string{"sales"}, "support", false},
		{"away from all lights every key", []string{store.AwayAll}, "support", true},
		{"the all key with all departments listed", []string{"sales", "support"}, store.AwayAll, true},
		{"the all key with one department left", []string{"support"}, store.AwayAll, false},
		{"the all key when away from all", []string{store.AwayAll}, store.AwayAll, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := awayLit(snap, store.Presence{User: "olga", Away: tt.away}, tt.dept); got != tt.want {
				t.Errorf("awayLit = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLineInsider(t *testing.T) {
	snap := directorytest.MustParse(t, keysOffice)
	tests := []struct {
		name, user, ext string
		want            bool
	}{
		{"the user", "erin", "1010", true},
		{"active assistant", "amy", "1010", true},
		{"pending assistant", "pat", "1010", false},
		{"colleague", "bob", "1010", false},
		{"operator of the department", "alice", "2100", true},
		{"not an operator", "bob", "2100", false},
		{"unknown extension", "erin", "9999", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := lineInsider(snap, tt.user, tt.ext); got != tt.want {
				t.Errorf("lineInsider = %v, want %v", got, tt.want)
			}
		})
	}
}
