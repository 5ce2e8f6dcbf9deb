package store

import (
	"fmt"
	"testing"
	"time"
)

func call(i int) HistoryEntry {
	return HistoryEntry{Time: at(time.Duration(i) * time.Minute), Direction: DirectionIn,
		Peer: fmt.Sprintf("+4930%04d", i), Result: ResultAnswered, CallID: fmt.Sprintf("call-%d", i)}
}

func callIDs(es []HistoryEntry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.CallID)
	}
	return out
}

func appendCalls(t testing.TB, db *DB, user string, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := db.AppendHistory(user, call(i)); err != nil {
			t.Fatalf("AppendHistory(%s, %d): %v", user, i, err)
		}
	}
}

func TestHistoryBoundAndOrder(t *testing.T) {
	db := openTest(t, Options{HistoryLimit: 3})
	appendCalls(t, db, "alice", 1, 5)
	appendCalls(t, db, "bob", 10, 11)
	tests := []struct {
		name  string
		user  string
		limit int
		want  []string
	}{
		{name: "all, newest first, oldest dropped", user: "alice", limit: 0, want: []string{"call-5", "call-4", "call-3"}},
		{name: "negative limit is all", user: "alice", limit: -1, want: []string{"call-5", "call-4", "call-3"}},
		{name: "limited", user: "alice", limit: 2, want: []string{"call-5", "call-4"}},
		{name: "limit above count", user: "bob", limit: 10, want: []string{"call-11", "call-10"}},
		{name: "unknown user", user: "carol", limit: 0, want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.History(tt.user, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(callIDs(got), tt.want); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestHistoryRoundTrip(t *testing.T) {
	db := openTest(t, Options{})
	e := HistoryEntry{Time: at(0), Direction: DirectionOut, Peer: "+493012345", Result: ResultMissed,
		OnBehalfOf: "exec1", CallID: "abc@host"}
	if err := db.AppendHistory("asst1", e); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, Options{})
	got, err := db.History("asst1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffJSON(got, []HistoryEntry{e}); diff != "" {
		t.Error(diff)
	}
}

func TestHistoryChronologicalKeys(t *testing.T) {
	// More than 256 entries: little-endian or decimal keys would sort wrong.
	db := openTest(t, Options{HistoryLimit: 1000})
	appendCalls(t, db, "alice", 1, 300)
	got, err := db.History("alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 300 {
		t.Fatalf("%d entries, want 300", len(got))
	}
	for i, e := range got {
		if want := fmt.Sprintf("call-%d", 300-i); e.CallID != want {
			t.Fatalf("entry %d = %s, want %s", i, e.CallID, want)
		}
	}
}

func TestHistoryLimitLoweredAfterReopen(t *testing.T) {
	db := openTest(t, Options{HistoryLimit: 10})
	appendCalls(t, db, "alice", 1, 10)
	db = reopen(t, db, Options{HistoryLimit: 3})
	appendCalls(t, db, "alice", 11, 11)
	got, err := db.History("alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffJSON(callIDs(got), []string{"call-11", "call-10", "call-9"}); diff != "" {
		t.Error(diff)
	}
	if err := db.Check(); err != nil {
		t.Error(err)
	}
}

func TestHistoryDefaultLimit(t *testing.T) {
	db := openTest(t, Options{})
	appendCalls(t, db, "alice", 1, defaultHistoryLimit+2)
	got, err := db.History("alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != defaultHistoryLimit || got[len(got)-1].CallID != "call-3" {
		t.Errorf("%d entries, oldest %s; want %d, oldest call-3", len(got), got[len(got)-1].CallID, defaultHistoryLimit)
	}
}

func TestHistoryInvalid(t *testing.T) {
	db := openTest(t, Options{})
	tests := []struct {
		name string
		user string
		e    HistoryEntry
	}{
		{name: "no user", user: "", e: call(1)},
		{name: "bad direction", user: "alice", e: HistoryEntry{Direction: "sideways", Result: ResultAnswered}},
		{name: "bad result", user: "alice", e: HistoryEntry{Direction: DirectionIn, Result: "busy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := db.AppendHistory(tt.user, tt.e); err == nil {
				t.Error("no error")
			}
		})
	}
	if _, err := db.History("", 0); err == nil {
		t.Error("History without user: no error")
	}
}
