package presence

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
)

func openStore(t *testing.T) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newService(t *testing.T, db *store.DB) *Service {
	t.Helper()
	snap := directorytest.MustParse(t, office)
	s, err := New(Options{Store: db, Directory: func() *directory.Snapshot { return snap },
		Now: func() time.Time { return time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestServiceLoadsAndPersists(t *testing.T) {
	db := openStore(t)
	if err := db.PutPresence(store.Presence{User: "bob", Away: []string{"billing"}}); err != nil {
		t.Fatal(err)
	}
	s := newService(t, db)
	if !s.Away("bob", "billing") || s.Away("bob", "support") || s.DND("bob") {
		t.Errorf("loaded state wrong: %+v", s.Get("bob"))
	}
	ctx := context.Background()
	p, err := s.SetDND(ctx, "alice", true, ByFeatureCode)
	if err != nil || !p.DND || p.User != "alice" || p.Updated.IsZero() {
		t.Fatalf("SetDND = %+v, %v", p, err)
	}
	if _, err := s.SetAway(ctx, "alice", "support", true, ByControl); err != nil {
		t.Fatal(err)
	}
	stored, err := db.Presence("alice")
	if err != nil || !stored.DND || !slices.Equal(stored.Away, []string{"support"}) {
		t.Errorf("stored %+v, %v", stored, err)
	}
	// A new service (a restart) sees the same state.
	s2 := newService(t, db)
	if got := s2.Get("alice"); !got.DND || !got.AwayFrom("support") || got.AwayFrom("sales") {
		t.Errorf("after reload: %+v", got)
	}
	if got := s2.All(); len(got) != 2 || got[0].User != "alice" || got[1].User != "bob" {
		t.Errorf("All = %+v", got)
	}
	if got := s2.Get("nobody"); got.User != "nobody" || got.DND || got.Away != nil {
		t.Errorf("unknown user: %+v", got)
	}
}

func TestServiceRefusesWhatTheDirectoryForbids(t *testing.T) {
	s := newService(t, openStore(t))
	if _, err := s.SetAway(context.Background(), "alice", "billing", true, ByControl); err == nil {
		t.Error("away from a department alice does not operate was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.SetDND(ctx, "alice", true, ByControl); err == nil || s.DND("alice") {
		t.Error("a change with a cancelled context was made")
	}
	if _, err := s.SetDND(context.Background(), "", true, ByControl); err == nil {
		t.Error("empty user accepted")
	}
}

func TestFeedDeliversEveryChangeToEverySubscriber(t *testing.T) {
	s := newService(t, openStore(t))
	a, cancelA := s.Subscribe(8)
	b, cancelB := s.Subscribe(8)
	defer cancelB()
	ctx := context.Background()
	mustSet := func(p store.Presence, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustSet(s.SetDND(ctx, "alice", true, ByFeatureCode))
	mustSet(s.SetDND(ctx, "alice", true, ByFeatureCode)) // no change: not published
	mustSet(s.SetAway(ctx, "alice", "", true, ByControl))
	mustSet(s.SetAway(ctx, "alice", "sales", false, ByControl))
	want := []string{"1 alice dnd=true away=[] feature_code", "2 alice dnd=true away=[*] control", "3 alice dnd=true away=[support] control"}
	for name, ch := range map[string]<-chan Change{"a": a, "b": b} {
		var got []string
		for range want {
			select {
			case c := <-ch:
				got = append(got, describe(c))
			case <-time.After(2 * time.Second):
				t.Fatalf("subscriber %s: timed out after %q", name, got)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("subscriber %s got %q, want %q", name, got, want)
		}
		select {
		case c := <-ch:
			t.Errorf("subscriber %s: unexpected %s", name, describe(c))
		default:
		}
	}
	cancelA()
	cancelA() // twice is fine
	if _, ok := <-a; ok {
		t.Error("channel not closed by cancel")
	}
	mustSet(s.SetDND(ctx, "bob", true, ByControl)) // publishing after a cancel must not panic
	if c := <-b; c.User != "bob" || c.Seq != 4 {
		t.Errorf("after cancel: %s", describe(c))
	}
}

func describe(c Change) string {
	if c.Resync {
		return "resync"
	}
	return fmt.Sprintf("%d %s dnd=%v away=[%s] %s", c.Seq, c.User, c.New.DND, strings.Join(c.New.Away, ","), c.By)
}

// TestFeedSlowSubscriber: a subscriber that does not read never blocks a
// writer; its backlog becomes one Resync, and All then has the newest state.
func TestFeedSlowSubscriber(t *testing.T) {
	s := newService(t, openStore(t))
	slow, cancel := s.Subscribe(2)
	defer cancel()
	ctx := context.Background()
	for i := range 10 {
		done := make(chan error, 1)
		go func() { _, err := s.SetDND(ctx, "alice", i%2 == 0, ByControl); done <- err }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a writer blocked on a slow subscriber")
		}
	}
	var got []Change
	for len(slow) > 0 {
		got = append(got, <-slow)
	}
	if len(got) == 0 || len(got) > 2 {
		t.Fatalf("slow subscriber holds %d changes, want 1..2", len(got))
	}
	last := got[len(got)-1]
	if last.Seq != 10 {
		t.Errorf("newest held change has Seq %d, want 10", last.Seq)
	}
	resynced := slices.ContainsFunc(got, func(c Change) bool { return c.Resync })
	if !resynced {
		t.Errorf("no Resync after an overflow: %+v", got)
	}
	if all := s.All(); len(all) != 1 || all[0].DND { // i=9 turned DND off
		t.Errorf("All after resync = %+v", all)
	}
}

// TestServiceConcurrent: concurrent writers and readers (run with -race).
func TestServiceConcurrent(t *testing.T) {
	s := newService(t, openStore(t))
	ch, cancel := s.Subscribe(1000)
	defer cancel()
	ctx := context.Background()
	var wg sync.WaitGroup
	for _, u := range []string{"alice", "bob"} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := s.SetDND(ctx, u, i%2 == 0, ByControl); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 200 {
				_ = s.DND(u)
				_ = s.Away(u, "support")
				_ = s.Get(u)
			}
		}()
	}
	wg.Wait()
	if n := len(ch); n != 40 {
		t.Errorf("feed holds %d changes, want 40", n)
	}
	var last uint64
	for len(ch) > 0 {
		c := <-ch
		if c.Seq != last+1 {
			t.Fatalf("Seq %d after %d", c.Seq, last)
		}
		last = c.Seq
	}
}

func TestNewNeedsStore(t *testing.T) {
	if _, err := New(Options{}); err == nil {
		t.Error("New without a store succeeded")
	}
}
