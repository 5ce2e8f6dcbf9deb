package store

import (
	"testing"
	"time"
)

// at returns a fixed instant d after the tests' reference time.
func at(d time.Duration) time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC).Add(d) }

func binding(user, contact string, expiresIn time.Duration) Binding {
	return Binding{
		User: user, Contact: contact, Source: "192.0.2.10:5060", Transport: "udp",
		CallID: "cid-" + contact, InstanceID: "<urn:uuid:1>", UserAgent: "Yealink SIP-T54W",
		CSeq: 7, Expires: at(expiresIn), Updated: at(0),
	}
}

func contactsOf(bs []Binding) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.User+" "+b.Contact)
	}
	return out
}

func seedBindings(t *testing.T, db *DB, bs ...Binding) {
	t.Helper()
	for _, b := range bs {
		if err := db.PutBinding(b); err != nil {
			t.Fatalf("PutBinding(%s %s): %v", b.User, b.Contact, err)
		}
	}
}

func TestBindingsExpiry(t *testing.T) {
	db := openTest(t, Options{})
	seedBindings(t, db,
		binding("alice", "sip:alice@192.0.2.10:5060", time.Hour),
		binding("alice", "sip:alice@192.0.2.11:5060", time.Minute),
		binding("alice2", "sip:alice2@192.0.2.12:5060", time.Hour), // shares a prefix with alice
		binding("bob", "sip:bob@192.0.2.20:5060", 30*time.Second),
	)
	tests := []struct {
		name string
		user string
		now  time.Time
		want []string
	}{
		{name: "all live", user: "alice", now: at(0), want: []string{
			"alice sip:alice@192.0.2.10:5060", "alice sip:alice@192.0.2.11:5060"}},
		{name: "one expired", user: "alice", now: at(2 * time.Minute), want: []string{
			"alice sip:alice@192.0.2.10:5060"}},
		{name: "expires exactly now", user: "alice", now: at(time.Minute), want: []string{
			"alice sip:alice@192.0.2.10:5060"}},
		{name: "all expired", user: "alice", now: at(2 * time.Hour), want: nil},
		{name: "prefix user not mixed in", user: "alice2", now: at(0), want: []string{
			"alice2 sip:alice2@192.0.2.12:5060"}},
		{name: "unknown user", user: "carol", now: at(0), want: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.Bindings(tt.user, tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(contactsOf(got), tt.want); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestBindingRoundTripAndReplace(t *testing.T) {
	db := openTest(t, Options{})
	b := binding("alice", "sip:alice@192.0.2.10:5060", time.Hour)
	seedBindings(t, db, b)
	got, err := db.Bindings("alice", at(0))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffJSON(got, []Binding{b}); diff != "" {
		t.Fatal(diff)
	}
	b.CSeq, b.Expires = 8, at(2*time.Hour)
	seedBindings(t, db, b)
	db = reopen(t, db, Options{})
	got, err = db.Bindings("alice", at(0))
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffJSON(got, []Binding{b}); diff != "" {
		t.Error(diff)
	}
}

func TestAllBindingsAndPurge(t *testing.T) {
	db := openTest(t, Options{})
	seedBindings(t, db,
		binding("bob", "sip:bob@192.0.2.20:5060", time.Minute),
		binding("alice", "sip:alice@192.0.2.11:5060", time.Hour),
		binding("alice", "sip:alice@192.0.2.10:5060", time.Second),
		binding("carol", "sip:carol@192.0.2.30:5060", time.Second),
	)
	tests := []struct {
		name       string
		now        time.Time
		wantPurged int
		wantAll    []string
	}{
		{name: "nothing expired", now: at(0), wantPurged: 0, wantAll: []string{
			"alice sip:alice@192.0.2.10:5060", "alice sip:alice@192.0.2.11:5060",
			"bob sip:bob@192.0.2.20:5060", "carol sip:carol@192.0.2.30:5060"}},
		{name: "two expired", now: at(10 * time.Second), wantPurged: 2, wantAll: []string{
			"alice sip:alice@192.0.2.11:5060", "bob sip:bob@192.0.2.20:5060"}},
		{name: "again: nothing left to purge", now: at(10 * time.Second), wantPurged: 0, wantAll: []string{
			"alice sip:alice@192.0.2.11:5060", "bob sip:bob@192.0.2.20:5060"}},
		{name: "all expired", now: at(2 * time.Hour), wantPurged: 2, wantAll: nil},
	}
	for _, tt := range tests { // cases run in order against one database
		t.Run(tt.name, func(t *testing.T) {
			all, err := db.AllBindings(tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(contactsOf(all), tt.wantAll); diff != "" {
				t.Errorf("AllBindings: %s", diff)
			}
			n, err := db.PurgeExpired(tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.wantPurged {
				t.Errorf("PurgeExpired = %d, want %d", n, tt.wantPurged)
			}
			// Purged entries are gone even for a reader that ignores expiry.
			stored, err := db.AllBindings(time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(contactsOf(stored), tt.wantAll); diff != "" {
				t.Errorf("stored after purge: %s", diff)
			}
		})
	}
}

func TestDeleteBindings(t *testing.T) {
	tests := []struct {
		name   string
		delete func(db *DB) error
		want   []string
	}{
		{name: "one contact", delete: func(db *DB) error {
			return db.DeleteBinding("alice", "sip:alice@192.0.2.10:5060")
		}, want: []string{"alice sip:alice@192.0.2.11:5060", "alice2 sip:alice2@192.0.2.12:5060"}},
		{name: "missing contact is fine", delete: func(db *DB) error {
			return db.DeleteBinding("alice", "sip:nobody@192.0.2.99")
		}, want: []string{"alice sip:alice@192.0.2.10:5060", "alice sip:alice@192.0.2.11:5060",
			"alice2 sip:alice2@192.0.2.12:5060"}},
		{name: "all of a user, not the prefix-sharing one", delete: func(db *DB) error {
			return db.DeleteBindings("alice")
		}, want: []string{"alice2 sip:alice2@192.0.2.12:5060"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t, Options{})
			seedBindings(t, db,
				binding("alice", "sip:alice@192.0.2.10:5060", time.Hour),
				binding("alice", "sip:alice@192.0.2.11:5060", time.Hour),
				binding("alice2", "sip:alice2@192.0.2.12:5060", time.Hour),
			)
			if err := tt.delete(db); err != nil {
				t.Fatal(err)
			}
			all, err := db.AllBindings(at(0))
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(contactsOf(all), tt.want); diff != "" {
				t.Error(diff)
			}
		})
	}
}

func TestBindingInvalidInput(t *testing.T) {
	db := openTest(t, Options{})
	tests := []struct {
		name string
		call func() error
	}{
		{name: "put without user", call: func() error { return db.PutBinding(binding("", "sip:x@h", time.Hour)) }},
		{name: "put with NUL user", call: func() error { return db.PutBinding(binding("a\x00b", "sip:x@h", time.Hour)) }},
		{name: "put without contact", call: func() error { return db.PutBinding(binding("alice", "", time.Hour)) }},
		{name: "delete without user", call: func() error { return db.DeleteBinding("", "sip:x@h") }},
		{name: "delete all without user", call: func() error { return db.DeleteBindings("") }},
		{name: "read without user", call: func() error { _, err := db.Bindings("", at(0)); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Error("no error")
			}
		})
	}
}
