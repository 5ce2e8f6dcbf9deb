package store

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"
)

// TestBindingJSONAsEncodingJSON: the write-behind's encoder writes the same
// bytes as json.Marshal, for plain bindings (its own path) and for the
// ones it hands to json.Marshal (escapes, odd zones, years past 9999).
func TestBindingJSONAsEncodingJSON(t *testing.T) {
	plain := binding("alice", "sip:1001@192.0.2.10:5062;transport=udp", time.Hour)
	tests := map[string]func(b *Binding){
		"plain":            func(*Binding) {},
		"empty optional":   func(b *Binding) { *b = Binding{User: "u", Contact: "sip:u@h", Expires: at(time.Hour)} },
		"reg-id":           func(b *Binding) { b.RegID = "1" },
		"instance <urn>":   func(b *Binding) { b.InstanceID = "<urn:uuid:00000000-0000-1000-8000-0004f2aabbcc>" },
		"quote":            func(b *Binding) { b.UserAgent = `Acme "Deluxe" 1.0` },
		"backslash":        func(b *Binding) { b.CallID = `a\b` },
		"ampersand":        func(b *Binding) { b.Contact = "sip:u@h;a=b&c" },
		"control":          func(b *Binding) { b.UserAgent = "x\ty\x01\x7f" },
		"utf-8":            func(b *Binding) { b.UserAgent = "Téléphone \u2028 ☎" },
		"bad utf-8":        func(b *Binding) { b.UserAgent = "a\xffb" },
		"max cseq":         func(b *Binding) { b.CSeq = 1<<32 - 1 },
		"nanoseconds":      func(b *Binding) { b.Expires = b.Expires.Add(123456789); b.Updated = b.Updated.Add(1) },
		"local zone":       func(b *Binding) { b.Expires = b.Expires.In(time.FixedZone("X", -(3*3600 + 30*60))) },
		"seconds offset":   func(b *Binding) { b.Updated = b.Updated.In(time.FixedZone("LMT", 561)) },
		"zero times":       func(b *Binding) { b.Expires, b.Updated = time.Time{}, time.Time{} },
		"year past 9999":   func(b *Binding) { b.Expires = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
		"negative year":    func(b *Binding) { b.Updated = time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC) },
		"monotonic clock":  func(b *Binding) { b.Updated = time.Now() },
		"empty user agent": func(b *Binding) { b.UserAgent = "" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			b := plain
			mutate(&b)
			checkBindingJSON(t, b)
		})
	}
}

func checkBindingJSON(t *testing.T, b Binding) {
	t.Helper()
	want, wantErr := json.Marshal(b)
	prefix := []byte("prefix")
	got, err := appendBindingJSON(bytes.Clone(prefix), &b)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("error %v, json.Marshal's %v", err, wantErr)
	}
	if err != nil {
		return
	}
	if !bytes.HasPrefix(got, prefix) || !bytes.Equal(got[len(prefix):], want) {
		t.Fatalf("encoded\n%s\njson.Marshal\n%s", got[len(prefix):], want)
	}
}

// FuzzBindingJSON: any binding encodes as json.Marshal encodes it.
func FuzzBindingJSON(f *testing.F) {
	f.Add("alice", "sip:1001@192.0.2.10:5062", "192.0.2.10:5062", "UDP", "cid@h", "<urn:uuid:1>", "1", "Yealink", uint32(7), int64(1e18), int64(1e18), 0)
	f.Add("a\"b", "sip:<x>&", "", "", "\x00", "é", "", "\u2028", uint32(0), int64(-1), int64(1<<62), 3600)
	f.Fuzz(func(t *testing.T, user, contact, source, transport, callID, instance, regID, ua string, cseq uint32, exp, upd int64, zone int) {
		loc := time.FixedZone("Z", zone%(48*3600))
		checkBindingJSON(t, Binding{User: user, Contact: contact, Source: source, Transport: transport,
			CallID: callID, InstanceID: instance, RegID: regID, UserAgent: ua, CSeq: cseq,
			Expires: time.Unix(0, exp).In(loc), Updated: time.Unix(upd, 0).In(loc)})
	})
}

// TestWriteBehindBindingsRoundTrip: bindings queued behind requests, many
// per flush and across flushes (the flush buffer is reused), read back as
// written, after a reopen too; deletes queued in between apply in order.
func TestWriteBehindBindingsRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openAt(t, path, Options{FlushEvery: time.Hour})
	want := map[string]Binding{}
	for round := range 3 {
		for i := range 300 {
			b := binding("user"+string(rune('a'+i%26)), "sip:"+string(rune('a'+i%7))+"@192.0.2.10", time.Hour)
			b.CSeq = uint32(round*1000 + i)
			b.UserAgent = []string{"plain", `quo"te`, "ünï"}[i%3]
			if err := db.QueueBinding(b); err != nil {
				t.Fatal(err)
			}
			want[b.User+" "+b.Contact] = b
		}
		if err := db.QueueDeleteBinding("usera", "sip:a@192.0.2.10"); err != nil {
			t.Fatal(err)
		}
		delete(want, "usera sip:a@192.0.2.10")
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	check := func(db *DB) {
		t.Helper()
		all, err := db.AllBindings(at(0))
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(want) {
			t.Fatalf("%d bindings, want %d", len(all), len(want))
		}
		for _, b := range all {
			w := want[b.User+" "+b.Contact]
			if b.CSeq != w.CSeq || b.UserAgent != w.UserAgent || !b.Expires.Equal(w.Expires) || b.CallID != w.CallID {
				t.Errorf("read %+v, wrote %+v", b, w)
			}
		}
	}
	check(db)
	db = reopen(t, db, Options{})
	check(db)
}
