package registrar

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/store"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func bnd(contact string, exp time.Duration, mods ...func(*store.Binding)) store.Binding {
	b := store.Binding{User: "alice", Contact: contact, CallID: "c1", CSeq: 1, Expires: t0.Add(exp), Updated: t0}
	for _, m := range mods {
		m(&b)
	}
	return b
}

func contacts(bs []store.Binding) string {
	var out []string
	for _, b := range bs {
		out = append(out, b.Contact)
	}
	return strings.Join(out, ",")
}

func TestMergeBindings(t *testing.T) {
	inst := func(id string) func(*store.Binding) { return func(b *store.Binding) { b.InstanceID = id } }
	tests := []struct {
		name        string
		cur, change []store.Binding
		want        string
		wantRemoved string
	}{
		{"first", nil, []store.Binding{bnd("a", time.Hour)}, "a", ""},
		{"second phone", []store.Binding{bnd("a", time.Hour)}, []store.Binding{bnd("b", time.Hour)}, "a,b", ""},
		{"refresh keeps order", []store.Binding{bnd("a", time.Hour), bnd("b", time.Hour)}, []store.Binding{bnd("a", 2*time.Hour)}, "a,b", ""},
		{"remove one", []store.Binding{bnd("a", time.Hour), bnd("b", time.Hour)}, []store.Binding{bnd("a", 0)}, "b", "a"},
		{"remove unknown", []store.Binding{bnd("a", time.Hour)}, []store.Binding{bnd("z", 0)}, "a", ""},
		{"same instance new contact", []store.Binding{bnd("a", time.Hour, inst("urn:1")), bnd("b", time.Hour)},
			[]store.Binding{bnd("c", time.Hour, inst("urn:1"))}, "c,b", "a"},
		{"remove one of two in one request", []store.Binding{bnd("a", time.Hour), bnd("b", time.Hour)},
			[]store.Binding{bnd("a", 0), bnd("b", 0)}, "", "a,b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			next, removed := Merge(tc.cur, tc.change, t0)
			if got := contacts(next); got != tc.want {
				t.Errorf("bindings %q, want %q", got, tc.want)
			}
			if got := strings.Join(removed, ","); got != tc.wantRemoved {
				t.Errorf("removed %q, want %q", got, tc.wantRemoved)
			}
		})
	}
}

func TestMergeBindingsCap(t *testing.T) {
	var cur []store.Binding
	for i := range MaxContactsPerUser {
		cur = append(cur, bnd("c"+string(rune('a'+i)), time.Hour, func(b *store.Binding) { b.Updated = t0.Add(time.Duration(i) * time.Second) }))
	}
	cur[3].Updated = t0.Add(-time.Hour) // the stalest
	next, removed := Merge(cur, []store.Binding{bnd("new", time.Hour)}, t0)
	if len(next) != MaxContactsPerUser || len(removed) != 1 || removed[0] != "cd" {
		t.Errorf("cap: %d bindings, removed %v; want %d and [cd]", len(next), removed, MaxContactsPerUser)
	}
}

// TestBindingsPersist: what update writes, a new table loads; expired
// bindings are neither served nor loaded, and sweep purges them.
func TestBindingsPersist(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	b := New(db)
	if _, err := b.Update("alice", []store.Binding{bnd("sip:a@192.0.2.1", time.Minute), bnd("sip:b@192.0.2.2", time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Update("bob", []store.Binding{{User: "bob", Contact: "sip:c@192.0.2.3", Expires: t0.Add(time.Hour), Updated: t0}}, t0); err != nil {
		t.Fatal(err)
	}
	later := t0.Add(2 * time.Minute)
	if got := contacts(b.Get("alice", later)); got != "sip:b@192.0.2.2" {
		t.Errorf("live after a minute: %q", got)
	}
	fresh := New(db)
	if err := fresh.Load(later); err != nil {
		t.Fatal(err)
	}
	if got := contacts(fresh.All(later)); got != "sip:b@192.0.2.2,sip:c@192.0.2.3" {
		t.Errorf("loaded %q", got)
	}
	if n := fresh.Count(later); n != 2 {
		t.Errorf("count %d", n)
	}
	if err := fresh.RemoveAll("bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Sweep(later); err != nil {
		t.Fatal(err)
	}
	all, err := db.AllBindings(t0) // as of t0 everything would be live: what is left in the store?
	if err != nil {
		t.Fatal(err)
	}
	if got := contacts(all); got != "sip:b@192.0.2.2" {
		t.Errorf("store after removeAll and sweep: %q", got)
	}
}
