package notifier

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"deskgate/daemon/store"
	"deskgate/routing/events"
)

// sent is one NOTIFY the fake transport was asked to send.
type sent struct {
	id      string
	cseq    uint32
	version uint32
	ending  string
}

// fakeTransport records NOTIFYs and answers each with the next result of
// its script (Alive when the script is used up). With hold set, every Send
// blocks until release is called, so a test can change state while a
// NOTIFY is in flight.
type fakeTransport struct {
	mu      sync.Mutex
	sent    []sent
	results []Result
	hold    chan struct{} // nil: do not block
	inSend  chan struct{} // signalled when a Send starts (if not nil)
}

func (f *fakeTransport) Send(rec store.Subscription, ending string) Result {
	if f.inSend != nil {
		f.inSend <- struct{}{}
	}
	if f.hold != nil {
		<-f.hold
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, sent{id: rec.ID, cseq: rec.CSeq, version: rec.Version, ending: ending})
	if len(f.results) == 0 {
		return Alive
	}
	r := f.results[0]
	f.results = f.results[1:]
	return r
}

func (f *fakeTransport) all() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.sent)
}

// fakeStore is an in-memory Store.
type fakeStore struct {
	mu   sync.Mutex
	recs map[string]store.Subscription
	// putHook runs inside PutSubscription, before the write (a race window).
	putHook func()
}

func newFakeStore() *fakeStore { return &fakeStore{recs: map[string]store.Subscription{}} }

func (s *fakeStore) PutSubscription(r store.Subscription) error {
	if s.putHook != nil {
		s.putHook()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recs[r.ID] = r
	return nil
}

func (s *fakeStore) DeleteSubscription(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.recs, id)
	return nil
}

func (s *fakeStore) Subscriptions(now time.Time) ([]store.Subscription, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.Subscription
	for _, r := range s.recs {
		if r.Expires.After(now) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, func(a, b store.Subscription) int {
		if a.ID < b.ID {
			return -1
		}
		return 1
	})
	return out, nil
}

func (s *fakeStore) PurgeExpiredSubscriptions(now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, r := range s.recs {
		if !r.Expires.After(now) {
			delete(s.recs, id)
			n++
		}
	}
	return n, nil
}

func (s *fakeStore) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.recs[id]
	return ok
}

// group is a minimal owner for sender goroutines, like routing's.
type group struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (g *group) start(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	go func() { defer g.wg.Done(); f() }()
	return true
}

func (g *group) wait() { g.wg.Wait() }

func (g *group) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

func rec(id, user, resource, pkg string) store.Subscription {
	return store.Subscription{ID: id, User: user, Resource: resource, Package: pkg, Event: pkg,
		Contact: "sip:" + user + "@192.0.2.1", CSeq: 1, Expires: t0.Add(time.Hour)}
}

func newTest(t *testing.T, tr *fakeTransport) (*Notifier, *fakeStore, *group) {
	t.Helper()
	st, g := newFakeStore(), &group{}
	t.Cleanup(g.close)
	return New(Options{Transport: tr, Store: st, Go: g.start}), st, g
}

// NOTIFYs of one subscription go out one at a time, in CSeq order, and
// changes made while one is in flight are coalesced into a single next
// NOTIFY (every body is the full state, rendered at send time).
func TestCoalescing(t *testing.T) {
	tr := &fakeTransport{hold: make(chan struct{}), inSend: make(chan struct{}, 16)}
	n, _, g := newTest(t, tr)
	r := rec("a", "alice", "line:1001", events.PackageDialog)
	if err := n.Add(r); err != nil {
		t.Fatal(err)
	}
	n.Notify("a")
	<-tr.inSend // the first NOTIFY is in flight
	for range 5 {
		n.Notify("a")
	}
	tr.hold <- struct{}{} // answer the first
	<-tr.inSend           // the coalesced second starts
	tr.hold <- struct{}{}
	g.wait()
	got := tr.all()
	want := []sent{{"a", 2, 0, ""}, {"a", 3, 1, ""}}
	if !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

// Version steps only for the dialog package (RFC 4235); CSeq always.
func TestVersionOnlyForDialog(t *testing.T) {
	tr := &fakeTransport{}
	n, _, g := newTest(t, tr)
	for _, id := range []string{"d", "f"} {
		pkg := events.PackageDialog
		if id == "f" {
			pkg = events.PackageFeature
		}
		if err := n.Add(rec(id, "alice", "x:"+id, pkg)); err != nil {
			t.Fatal(err)
		}
		n.Notify(id)
		g.wait()
		n.Notify(id)
		g.wait()
	}
	want := []sent{{"d", 2, 0, ""}, {"d", 3, 1, ""}, {"f", 2, 0, ""}, {"f", 3, 0, ""}}
	if got := tr.all(); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
}

// What one NOTIFY's result does to the subscription.
func TestResultDecidesFate(t *testing.T) {
	tests := []struct {
		name    string
		ending  string // End with this reason instead of Notify
		result  Result
		inTable bool
		inStore bool
	}{
		{name: "answered", result: Alive, inTable: true, inStore: true},
		{name: "refused or unanswered", result: Ended},
		// Our own stop is not the subscriber's answer: the record stays
		// for the next start (it is resumed from the store).
		{name: "cut short by our stop", result: Stopped, inTable: true, inStore: true},
		{name: "final NOTIFY answered", ending: events.ReasonTimeout, result: Alive},
		{name: "final NOTIFY cut short by our stop", ending: events.ReasonTimeout, result: Stopped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := &fakeTransport{results: []Result{tt.result}}
			n, st, g := newTest(t, tr)
			if err := n.Add(rec("a", "alice", "dnd:alice", events.PackageFeature)); err != nil {
				t.Fatal(err)
			}
			if tt.ending != "" {
				n.End("a", tt.ending)
			} else {
				n.Notify("a")
			}
			g.wait()
			if got := tr.all(); len(got) != 1 || got[0].ending != tt.ending {
				t.Fatalf("sent %v", got)
			}
			if _, ok := n.Get("a"); ok != tt.inTable {
				t.Errorf("in table %v, want %v", ok, tt.inTable)
			}
			if st.has("a") != tt.inStore {
				t.Errorf("in store %v, want %v", st.has("a"), tt.inStore)
			}
		})
	}
}

// Once a final NOTIFY is scheduled, nothing else is sent after it and a
// second End does not change its reason.
func TestEndIsFinal(t *testing.T) {
	tr := &fakeTransport{hold: make(chan struct{}), inSend: make(chan struct{}, 16)}
	n, _, g := newTest(t, tr)
	if err := n.Add(rec("a", "alice", "dnd:alice", events.PackageFeature)); err != nil {
		t.Fatal(err)
	}
	n.Notify("a")
	<-tr.inSend
	n.End("a", events.ReasonTimeout)
	n.End("a", "rejected")
	n.Notify("a")
	tr.hold <- struct{}{}
	<-tr.inSend
	tr.hold <- struct{}{}
	g.wait()
	want := []sent{{"a", 2, 0, ""}, {"a", 3, 0, events.ReasonTimeout}}
	if got := tr.all(); !slices.Equal(got, want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	if n.Count() != 0 {
		t.Fatal("ended subscription still in the table")
	}
}

// A refresh cannot bring back a subscription dropped before it, nor one
// dropped while the refreshed record is being written.
func TestRefreshCannotResurrect(t *testing.T) {
	tr := &fakeTransport{}
	n, st, _ := newTest(t, tr)
	later := func(r *store.Subscription) { r.Expires = t0.Add(2 * time.Hour) }

	if err := n.Add(rec("a", "alice", "dnd:alice", events.PackageFeature)); err != nil {
		t.Fatal(err)
	}
	n.Drop("a")
	if _, err := n.Refresh("a", later); !errors.Is(err, ErrGone) {
		t.Fatalf("refresh after drop: %v, want ErrGone", err)
	}
	if st.has("a") {
		t.Fatal("dropped subscription in the store")
	}

	if err := n.Add(rec("b", "alice", "dnd:alice", events.PackageFeature)); err != nil {
		t.Fatal(err)
	}
	st.putHook = func() { st.putHook = nil; n.Drop("b") } // the drop lands mid-write
	if _, err := n.Refresh("b", later); !errors.Is(err, ErrGone) {
		t.Fatalf("refresh racing a drop: %v, want ErrGone", err)
	}
	if st.has("b") || n.Count() != 0 {
		t.Fatal("refresh brought the subscription back")
	}

	// An ending subscription cannot be refreshed either.
	tr2 := &fakeTransport{hold: make(chan struct{}), inSend: make(chan struct{}, 4)}
	n2, _, g2 := newTest(t, tr2)
	if err := n2.Add(rec("c", "alice", "dnd:alice", events.PackageFeature)); err != nil {
		t.Fatal(err)
	}
	n2.End("c", events.ReasonTimeout)
	<-tr2.inSend
	if _, err := n2.Refresh("c", later); !errors.Is(err, ErrGone) {
		t.Fatalf("refresh of an ending subscription: %v, want ErrGone", err)
	}
	tr2.hold <- struct{}{}
	g2.wait()
}

// A refresh of a live subscription is stored and returned.
func TestRefreshStores(t *testing.T) {
	n, st, _ := newTest(t, &fakeTransport{})
	if err := n.Add(rec("a", "alice", "dnd:alice", events.PackageFeature)); err != nil {
		t.Fatal(err)
	}
	got, err := n.Refresh("a", func(r *store.Subscription) { r.Contact = "sip:alice@192.0.2.9" })
	if err != nil || got.Contact != "sip:alice@192.0.2.9" {
		t.Fatalf("refresh: %+v, %v", got, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.recs["a"].Contact != "sip:alice@192.0.2.9" {
		t.Fatal("refresh not stored")
	}
}

// A phone that subscribes again from the same contact replaces its old
// subscription (it rebooted); another phone's is kept.
func TestSameWatcherReplaced(t *testing.T) {
	n, st, _ := newTest(t, &fakeTransport{})
	old := rec("old", "alice", "line:1002", events.PackageDialog)
	other := rec("other", "alice", "line:1002", events.PackageDialog)
	other.Contact = "sip:alice@192.0.2.2"
	for _, r := range []store.Subscription{old, other, rec("new", "alice", "line:1002", events.PackageDialog)} {
		if err := n.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	var ids []string
	for _, r := range n.Watching("line:1002") {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []string{"new", "other"}) {
		t.Fatalf("watching %v", ids)
	}
	if st.has("old") {
		t.Fatal("replaced subscription still stored")
	}
}

// Table bounds: per user and in total.
func TestLimits(t *testing.T) {
	n, _, _ := newTest(t, &fakeTransport{})
	for i := range maxPerUser {
		r := rec(fmt.Sprint("a", i), "alice", fmt.Sprint("line:", i), events.PackageDialog)
		if err := n.Add(r); err != nil {
			t.Fatalf("sub %d: %v", i, err)
		}
	}
	if err := n.Add(rec("a-over", "alice", "line:x", events.PackageDialog)); !errors.Is(err, ErrLimit) {
		t.Fatalf("over the per-user bound: %v", err)
	}
	if err := n.Add(rec("b", "bob", "line:x", events.PackageDialog)); err != nil {
		t.Fatalf("another user: %v", err)
	}
}

// NotifyResource and NotifyPrefix reach exactly the subscriptions they name.
func TestNotifySelection(t *testing.T) {
	tr := &fakeTransport{}
	n, _, g := newTest(t, tr)
	for _, r := range []store.Subscription{
		rec("1", "alice", "dnd:alice", events.PackageFeature),
		rec("2", "bob", "dnd:alice", events.PackageFeature),
		rec("3", "alice", "away:sales", events.PackageDialog),
		rec("4", "bob", "away:*", events.PackageDialog),
	} {
		if err := n.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	check := func(what string, f func(), want ...string) {
		t.Helper()
		before := len(tr.all())
		f()
		g.wait()
		var got []string
		for _, s := range tr.all()[before:] {
			got = append(got, s.id)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: notified %v, want %v", what, got, want)
		}
	}
	check("resource", func() { n.NotifyResource("dnd:alice") }, "1", "2")
	check("prefix", func() { n.NotifyPrefix("away:", "") }, "3", "4")
	check("prefix and user", func() { n.NotifyPrefix("away:", "bob") }, "4")
	check("resume", n.Resume, "1", "2", "3", "4")
}

// After a restart, subscriptions come back from the store with CSeq and
// version moved past anything sent before; expired ones end with a last
// NOTIFY and leave the store.
func TestLoadAndSweep(t *testing.T) {
	tr := &fakeTransport{}
	n, st, g := newTest(t, tr)
	live := rec("live", "alice", "line:1", events.PackageDialog)
	live.Version = 7
	short := rec("short", "bob", "line:2", events.PackageDialog)
	short.Expires = t0.Add(time.Minute)
	for _, r := range []store.Subscription{live, short} {
		if err := st.PutSubscription(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Load(t0); err != nil {
		t.Fatal(err)
	}
	got, _ := n.Get("live")
	if got.CSeq != 1+resumeStep || got.Version != 7+resumeStep {
		t.Fatalf("resumed CSeq %d version %d", got.CSeq, got.Version)
	}
	n.Sweep(t0.Add(2 * time.Minute))
	g.wait()
	if s := tr.all(); len(s) != 1 || s[0].id != "short" || s[0].ending != events.ReasonTimeout {
		t.Fatalf("sweep sent %v", s)
	}
	if n.Count() != 1 || st.has("short") || !st.has("live") {
		t.Fatalf("after sweep: %d in table, short stored %v, live stored %v", n.Count(), st.has("short"), st.has("live"))
	}
}

// A fetch sends one terminated NOTIFY and keeps nothing.
func TestFetch(t *testing.T) {
	tr := &fakeTransport{}
	n, st, g := newTest(t, tr)
	n.Fetch(rec("f", "alice", "dnd:alice", events.PackageFeature))
	g.wait()
	if s := tr.all(); len(s) != 1 || s[0].cseq != 2 || s[0].ending != events.ReasonTimeout {
		t.Fatalf("fetch sent %v", s)
	}
	if n.Count() != 0 || st.has("f") {
		t.Fatal("fetch kept a subscription")
	}
}

// Once the owner of the senders stops, nothing is scheduled, and a later
// Notify is not lost: the subscription is not left marked as sending.
func TestStoppedGroup(t *testing.T) {
	tr := &fakeTransport{}
	st, g := newFakeStore(), &group{}
	n := New(Options{Transport: tr, Store: st, Go: g.start})
	if err := n.Add(rec("a", "alice", "dnd:alice", events.PackageFeature)); err != nil {
		t.Fatal(err)
	}
	g.close()
	n.Notify("a")
	if len(tr.all()) != 0 {
		t.Fatal("sent after stop")
	}
	n.mu.Lock()
	sending := n.byID["a"].sending
	n.mu.Unlock()
	if sending {
		t.Fatal("subscription left marked as sending")
	}
}
