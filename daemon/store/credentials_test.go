package store

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestNewPassword(t *testing.T) {
	seen := make(map[string]bool)
	counts := make(map[rune]int)
	const n = 200
	for range n {
		pw, err := newPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != passwordLength {
			t.Fatalf("password %q has length %d", pw, len(pw))
		}
		if i := strings.IndexFunc(pw, func(r rune) bool { return !strings.ContainsRune(passwordAlphabet, r) }); i >= 0 {
			t.Fatalf("password %q has %q outside the alphabet", pw, pw[i])
		}
		if seen[pw] {
			t.Fatalf("password %q generated twice", pw)
		}
		seen[pw] = true
		for _, r := range pw {
			counts[r]++
		}
	}
	if strings.ContainsAny(passwordAlphabet, "0Oo1lI") {
		t.Errorf("alphabet %q has ambiguous characters", passwordAlphabet)
	}
	// 4800 draws over 56 characters: every character turns up (a biased or
	// truncated generator would leave some out; chance of a false alarm ~1e-10).
	if len(counts) != len(passwordAlphabet) {
		t.Errorf("%d of %d alphabet characters used in %d passwords", len(counts), len(passwordAlphabet), n)
	}
}

func TestCredentialLifecycle(t *testing.T) {
	db := openTest(t, Options{})
	if _, ok, err := db.LookupCredential("alice"); err != nil || ok {
		t.Fatalf("LookupCredential before first sight = %v, %v", ok, err)
	}
	first, err := db.Credential("alice", "101")
	if err != nil {
		t.Fatal(err)
	}
	if first.User != "alice" || first.Username != "101" || len(first.Password) != passwordLength || first.Created.IsZero() {
		t.Fatalf("first credential = %+v", first)
	}
	tests := []struct {
		name         string
		call         func(db *DB) (Credential, error)
		wantUsername string
		wantNewPass  bool
	}{
		{name: "same again", call: func(db *DB) (Credential, error) { return db.Credential("alice", "101") },
			wantUsername: "101"},
		{name: "empty username keeps stored", call: func(db *DB) (Credential, error) { return db.Credential("alice", "") },
			wantUsername: "101"},
		{name: "extension changed keeps password", call: func(db *DB) (Credential, error) { return db.Credential("alice", "201") },
			wantUsername: "201"},
		{name: "lookup", call: func(db *DB) (Credential, error) {
			c, ok, err := db.LookupCredential("alice")
			if !ok && err == nil {
				err = errors.New("LookupCredential: not found")
			}
			return c, err
		}, wantUsername: "201"},
		{name: "rotate keeps username", call: func(db *DB) (Credential, error) { return db.RotateCredential("alice", "") },
			wantUsername: "201", wantNewPass: true},
		{name: "rotate with new username", call: func(db *DB) (Credential, error) { return db.RotateCredential("alice", "301") },
			wantUsername: "301", wantNewPass: true},
	}
	prev := first
	for _, tt := range tests { // cases build on each other, reopening in between
		t.Run(tt.name, func(t *testing.T) {
			db = reopen(t, db, Options{})
			got, err := tt.call(db)
			if err != nil {
				t.Fatal(err)
			}
			if got.Username != tt.wantUsername {
				t.Errorf("username = %q, want %q", got.Username, tt.wantUsername)
			}
			if changed := got.Password != prev.Password; changed != tt.wantNewPass {
				t.Errorf("password changed = %v, want %v", changed, tt.wantNewPass)
			}
			if renewed := !got.Created.Equal(prev.Created); renewed != tt.wantNewPass {
				t.Errorf("Created %v -> %v: renewed = %v, want %v", prev.Created, got.Created, renewed, tt.wantNewPass)
			}
			stored, _, err := db.LookupCredential("alice")
			if err != nil {
				t.Fatal(err)
			}
			if diff := diffJSON(stored, got); diff != "" {
				t.Errorf("stored vs returned: %s", diff)
			}
			prev = got
		})
	}
}

func TestRotateCreates(t *testing.T) {
	db := openTest(t, Options{})
	c, err := db.RotateCredential("bob", "102")
	if err != nil {
		t.Fatal(err)
	}
	if c.Username != "102" || len(c.Password) != passwordLength {
		t.Errorf("RotateCredential on a new user = %+v", c)
	}
}

func TestCredentialConcurrentFirstSight(t *testing.T) {
	// Two REGISTERs of a new user at once must agree on one password.
	db := openTest(t, Options{})
	const n = 8
	got := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			c, err := db.Credential("carol", "103")
			got[i], errs[i] = c.Password, err
		})
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i] != got[0] {
			t.Fatalf("caller %d got password %q, caller 0 got %q", i, got[i], got[0])
		}
	}
}

func TestCredentialInvalidUser(t *testing.T) {
	db := openTest(t, Options{})
	tests := []struct {
		name string
		call func() error
	}{
		{name: "get", call: func() error { _, err := db.Credential("", "101"); return err }},
		{name: "lookup", call: func() error { _, _, err := db.LookupCredential(""); return err }},
		{name: "rotate", call: func() error { _, err := db.RotateCredential("a\x00", "101"); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); err == nil {
				t.Error("no error")
			}
		})
	}
}

// TestCredentialCacheFollowsWrites: lookups are served from memory, but
// never return a credential older than the last write that returned, even
// with lookups racing the writes; a reopened file agrees.
func TestCredentialCacheFollowsWrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openAt(t, path, Options{})
	if _, ok, err := db.LookupCredential("dave"); err != nil || ok {
		t.Fatalf("lookup before first sight = %v, %v", ok, err)
	}
	c, err := db.Credential("dave", "104") // the cached "not found" must go
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := db.LookupCredential("dave"); err != nil || !ok || got.Password != c.Password {
		t.Fatalf("lookup after first sight = %+v, %v, %v; want %q", got, ok, err, c.Password)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := 0; i < 100000; i++ { // bounded; stops with the writer
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := db.LookupCredential("dave"); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	for i := range 30 {
		username := "104"
		if i%2 == 1 {
			username = "105"
		}
		rot, err := db.RotateCredential("dave", username)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := db.LookupCredential("dave")
		if err != nil || !ok || got.Password != rot.Password || got.Username != username {
			t.Fatalf("rotation %d: lookup = %+v, %v, %v; want %+v", i, got, ok, err, rot)
		}
		if got, err := db.Credential("dave", "106"); err != nil || got.Password != rot.Password || got.Username != "106" {
			t.Fatalf("rotation %d: extension change = %+v, %v", i, got, err)
		}
		if got, _, _ := db.LookupCredential("dave"); got.Username != "106" {
			t.Fatalf("rotation %d: lookup after the extension change = %+v", i, got)
		}
	}
	close(stop)
	wg.Wait()
	want, _, _ := db.LookupCredential("dave")
	db = reopen(t, db, Options{})
	if got, ok, err := db.LookupCredential("dave"); err != nil || !ok || got.Password != want.Password || got.Username != want.Username {
		t.Fatalf("after reopening = %+v, %v, %v; want %+v", got, ok, err, want)
	}
}
