package store

import (
	"slices"
	"testing"
	"time"
)

func sub(id string, exp time.Duration) Subscription {
	return Subscription{ID: id, User: "olga", Event: "dialog", Package: "dialog", Resource: "away:support",
		CallID: "c-" + id, LocalTag: "lt", RemoteTag: "rt", LocalURI: "sip:away-2000@hq", RemoteURI: "sip:1020@hq",
		Contact: "sip:1020@192.0.2.20:5060", RouteSet: []string{"<sip:192.0.2.1;lr>"}, Source: "192.0.2.20:5060",
		Transport: "UDP", CSeq: 7, Version: 3, Expires: at(exp), Created: at(0)}
}

func ids(ss []Subscription) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestSubscriptions(t *testing.T) {
	tests := []struct {
		name   string
		put    []Subscription
		delete []string
		purge  bool
		now    time.Time
		want   []string
		purged int
	}{
		{name: "none stored (bucket missing)", now: at(0), want: nil},
		{name: "unexpired are listed in id order", put: []Subscription{sub("b", time.Hour), sub("a", time.Minute)},
			now: at(0), want: []string{"a", "b"}},
		{name: "expired are hidden", put: []Subscription{sub("a", time.Minute), sub("b", time.Hour)},
			now: at(2 * time.Minute), want: []string{"b"}},
		{name: "replace keeps one record", put: []Subscription{sub("a", time.Minute), sub("a", time.Hour)},
			now: at(2 * time.Minute), want: []string{"a"}},
		{name: "delete, also of a missing one", put: []Subscription{sub("a", time.Hour), sub("b", time.Hour)},
			delete: []string{"a", "zz"}, now: at(0), want: []string{"b"}},
		{name: "purge removes expired only", put: []Subscription{sub("a", time.Minute), sub("b", time.Hour), sub("c", 0)},
			purge: true, now: at(time.Minute), want: []string{"b"}, purged: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t, Options{})
			for _, s := range tt.put {
				if err := db.PutSubscription(s); err != nil {
					t.Fatal(err)
				}
			}
			for _, id := range tt.delete {
				if err := db.DeleteSubscription(id); err != nil {
					t.Fatal(err)
				}
			}
			if tt.purge {
				n, err := db.PurgeExpiredSubscriptions(tt.now)
				if err != nil || n != tt.purged {
					t.Fatalf("purged %d, %v; want %d", n, err, tt.purged)
				}
				// Expired records are gone, not just hidden.
				all, _ := db.Subscriptions(time.Time{})
				if !slices.Equal(ids(all), tt.want) {
					t.Errorf("after purge the bucket holds %q", ids(all))
				}
			}
			got, err := db.Subscriptions(tt.now)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(ids(got), tt.want) {
				t.Errorf("Subscriptions = %q, want %q", ids(got), tt.want)
			}
		})
	}
}

func TestSubscriptionSurvivesReopen(t *testing.T) {
	db := openTest(t, Options{})
	want := sub("x", time.Hour)
	if err := db.PutSubscription(want); err != nil {
		t.Fatal(err)
	}
	db = reopen(t, db, Options{})
	got, err := db.Subscriptions(at(0))
	if err != nil || len(got) != 1 {
		t.Fatalf("after reopen: %v, %v", got, err)
	}
	g := got[0]
	if g.ID != want.ID || g.CSeq != 7 || g.Version != 3 || !slices.Equal(g.RouteSet, want.RouteSet) ||
		!g.Expires.Equal(want.Expires) || g.Contact != want.Contact || g.RemoteTag != want.RemoteTag {
		t.Errorf("got %+v, want %+v", g, want)
	}
}

func TestSubscriptionBadID(t *testing.T) {
	db := openTest(t, Options{})
	for _, id := range []string{"", "a\x00b"} {
		if err := db.PutSubscription(Subscription{ID: id}); err == nil {
			t.Errorf("PutSubscription(%q) accepted", id)
		}
		if err := db.DeleteSubscription(id); err == nil {
			t.Errorf("DeleteSubscription(%q) accepted", id)
		}
	}
}
