package store

import (
	"regexp"
	"testing"
	"time"
)

func TestNormalizeMAC(t *testing.T) {
	tests := []struct {
		name, in, want string
		wantErr        bool
	}{
		{name: "canonical", in: "00:15:65:aa:bb:01", want: "00:15:65:aa:bb:01"},
		{name: "upper with dashes", in: "00-15-65-AA-BB-01", want: "00:15:65:aa:bb:01"},
		{name: "bare", in: "001565AabB01", want: "00:15:65:aa:bb:01"},
		{name: "cisco dots", in: "0015.65aa.bb01", want: "00:15:65:aa:bb:01"},
		{name: "too short", in: "00:15:65:aa:bb", wantErr: true},
		{name: "too long", in: "00:15:65:aa:bb:01:02", wantErr: true},
		{name: "not hex", in: "00:15:65:aa:bb:0g", wantErr: true},
		{name: "spaces", in: "00 15 65 aa bb 01", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := normalizeMAC(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("normalizeMAC(%q) = %q, %v; want %q, error %v", tt.in, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func FuzzNormalizeMAC(f *testing.F) {
	for _, s := range []string{"00:15:65:aa:bb:01", "00-15-65-AA-BB-01", "0015.65aa.bb01", "001565aabb01", "", "::::::", "zz"} {
		f.Add(s)
	}
	canonical := regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){5}$`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := normalizeMAC(s)
		if err != nil {
			return
		}
		if !canonical.MatchString(got) {
			t.Fatalf("normalizeMAC(%q) = %q, not canonical", s, got)
		}
		if again, err := normalizeMAC(got); err != nil || again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", s, got, again, err)
		}
	})
}

func TestSeePhone(t *testing.T) {
	db := openTest(t, Options{})
	tests := []struct {
		name   string
		seen   InventoryPhone
		lookup string
		want   InventoryPhone
	}{
		{name: "first sighting", lookup: "00:15:65:aa:bb:01",
			seen: InventoryPhone{MAC: "00-15-65-AA-BB-01", Vendor: "yealink", Model: "T54W", Address: "10.0.0.5", Source: "mdns", LastSeen: at(0)},
			want: InventoryPhone{MAC: "00:15:65:aa:bb:01", Vendor: "yealink", Model: "T54W", Address: "10.0.0.5", Source: "mdns",
				FirstSeen: at(0), LastSeen: at(0)}},
		{name: "later sighting keeps first seen and empty fields", lookup: "001565aabb01",
			seen: InventoryPhone{MAC: "001565AABB01", Address: "10.0.0.9", Source: "pnp", LastSeen: at(time.Hour)},
			want: InventoryPhone{MAC: "00:15:65:aa:bb:01", Vendor: "yealink", Model: "T54W", Address: "10.0.0.9", Source: "pnp",
				FirstSeen: at(0), LastSeen: at(time.Hour)}},
		{name: "stale sighting does not move last seen back", lookup: "0015.65aa.bb01",
			seen: InventoryPhone{MAC: "00:15:65:aa:bb:01", Address: "10.0.0.1", LastSeen: at(time.Minute)},
			want: InventoryPhone{MAC: "00:15:65:aa:bb:01", Vendor: "yealink", Model: "T54W", Address: "10.0.0.9", Source: "pnp",
				FirstSeen: at(0), LastSeen: at(time.Hour)}},
		{name: "another phone", lookup: "00:04:f2:00:00:01",
			seen: InventoryPhone{MAC: "0004F2000001", Vendor: "poly", LastSeen: at(2 * time.Hour)},
			want: InventoryPhone{MAC: "00:04:f2:00:00:01", Vendor: "poly", FirstSeen: at(2 * time.Hour), LastSeen: at(2 * time.Hour)}},
	}
	for _, tt := range tests { // cases build on each other
		t.Run(tt.name, func(t *testing.T) {
			if err := db.SeePhone(tt.seen); err != nil {
				t.Fatal(err)
			}
			got, ok, err := db.LookupPhone(tt.lookup)
			if err != nil || !ok {
				t.Fatalf("LookupPhone(%s) = %v, %v", tt.lookup, ok, err)
			}
			if diff := diffJSON(got, tt.want); diff != "" {
				t.Error(diff)
			}
		})
	}
	db = reopen(t, db, Options{})
	inv, err := db.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	if len(inv) != 2 || inv[0].MAC != "00:04:f2:00:00:01" || inv[1].MAC != "00:15:65:aa:bb:01" {
		t.Errorf("Inventory after reopen = %+v", inv)
	}
	if !inv[1].FirstSeen.Equal(at(0)) {
		t.Errorf("FirstSeen after reopen = %v", inv[1].FirstSeen)
	}
}

func TestSeePhoneDefaultsToNow(t *testing.T) {
	db := openTest(t, Options{})
	before := time.Now()
	if err := db.SeePhone(InventoryPhone{MAC: "00:15:65:aa:bb:01"}); err != nil {
		t.Fatal(err)
	}
	p, _, err := db.LookupPhone("00:15:65:aa:bb:01")
	if err != nil {
		t.Fatal(err)
	}
	if p.LastSeen.Before(before.Add(-time.Second)) || !p.FirstSeen.Equal(p.LastSeen) {
		t.Errorf("zero LastSeen stored as %v / first %v", p.LastSeen, p.FirstSeen)
	}
}

func TestInventoryInvalidMAC(t *testing.T) {
	db := openTest(t, Options{})
	if err := db.SeePhone(InventoryPhone{MAC: "phone-1"}); err == nil {
		t.Error("SeePhone with a bad MAC: no error")
	}
	if _, _, err := db.LookupPhone("phone-1"); err == nil {
		t.Error("LookupPhone with a bad MAC: no error")
	}
	if _, ok, err := db.LookupPhone("00:15:65:aa:bb:99"); ok || err != nil {
		t.Errorf("LookupPhone of an unseen phone = %v, %v", ok, err)
	}
}
