package store

import (
	"slices"
	"testing"
	"time"
)

func TestNormalizeAway(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{name: "nil", in: nil, want: nil},
		{name: "only empty ids", in: []string{"", ""}, want: nil},
		{name: "sorted and deduplicated", in: []string{"support", "sales", "support", ""}, want: []string{"sales", "support"}},
		{name: "all absorbs the rest", in: []string{"sales", AwayAll, "support"}, want: []string{AwayAll}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := normalizeAway(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("normalizeAway(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestAwayFrom(t *testing.T) {
	tests := []struct {
		name string
		away []string
		dept string
		want bool
	}{
		{name: "not away", away: nil, dept: "sales", want: false},
		{name: "away from that department", away: []string{"sales"}, dept: "sales", want: true},
		{name: "away from another department", away: []string{"support"}, dept: "sales", want: false},
		{name: "away from all", away: []string{AwayAll}, dept: "sales", want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := (Presence{Away: tt.away}).AwayFrom(tt.dept); got != tt.want {
				t.Errorf("AwayFrom(%q) with %q = %v", tt.dept, tt.away, got)
			}
		})
	}
}

func TestPresence(t *testing.T) {
	db := openTest(t, Options{})
	tests := []struct {
		name string
		put  *Presence // nil: only read
		user string
		want Presence
	}{
		{name: "never stored", user: "alice", want: Presence{User: "alice"}},
		{name: "dnd on", put: &Presence{User: "alice", DND: true, Updated: at(0)}, user: "alice",
			want: Presence{User: "alice", DND: true, Updated: at(0)}},
		{name: "away normalised", put: &Presence{User: "bob", Away: []string{"support", "sales", "sales"}, Updated: at(time.Minute)},
			user: "bob", want: Presence{User: "bob", Away: []string{"sales", "support"}, Updated: at(time.Minute)}},
		{name: "replace", put: &Presence{User: "alice", Away: []string{AwayAll}, Updated: at(time.Hour)}, user: "alice",
			want: Presence{User: "alice", Away: []string{AwayAll}, Updated: at(time.Hour)}},
	}
	for _, tt := range tests { // cases build on each other
		t.Run(tt.name, func(t *testing.T) {
			if tt.put != nil {
				if err := db.PutPresence(*tt.put); err != nil {
					t.Fatal(err)
				}
			}
			got, err := db.Presence(tt.user)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(got, tt.want); diff != "" {
				t.Error(diff)
			}
		})
	}
	db = reopen(t, db, Options{})
	all, err := db.AllPresence()
	if err != nil {
		t.Fatal(err)
	}
	want := []Presence{
		{User: "alice", Away: []string{AwayAll}, Updated: at(time.Hour)},
		{User: "bob", Away: []string{"sales", "support"}, Updated: at(time.Minute)},
	}
	if diff := diffJSON(all, want); diff != "" {
		t.Errorf("AllPresence after reopen: %s", diff)
	}
}

func TestPutPresenceKeepsCallerSlice(t *testing.T) {
	db := openTest(t, Options{})
	away := []string{"support", "sales"}
	if err := db.PutPresence(Presence{User: "alice", Away: away}); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(away, []string{"support", "sales"}) {
		t.Errorf("caller's slice changed to %q", away)
	}
}

func TestPresenceInvalidUser(t *testing.T) {
	db := openTest(t, Options{})
	if err := db.PutPresence(Presence{}); err == nil {
		t.Error("PutPresence without user: no error")
	}
	if _, err := db.Presence(""); err == nil {
		t.Error("Presence(\"\"): no error")
	}
}
