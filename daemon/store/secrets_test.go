package store

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestSecret(t *testing.T) {
	db := openTest(t, Options{})
	first, err := db.Secret("route-key", 32)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 32 || bytes.Equal(first, make([]byte, 32)) {
		t.Fatalf("new secret = %x, want 32 random bytes", first)
	}
	tests := []struct {
		name    string
		db      func() *DB
		secret  string
		size    int
		wantErr string
		same    bool // must equal first
	}{
		{name: "stable", db: func() *DB { return db }, secret: "route-key", size: 32, same: true},
		{name: "size only at creation", db: func() *DB { return db }, secret: "route-key", size: 16, same: true},
		{name: "stable across reopen", db: func() *DB { db = reopen(t, db, Options{}); return db },
			secret: "route-key", size: 32, same: true},
		{name: "another name", db: func() *DB { return db }, secret: "cookie-key", size: 32},
		{name: "empty name", db: func() *DB { return db }, secret: "", size: 32, wantErr: "empty secret name"},
		{name: "zero size", db: func() *DB { return db }, secret: "x", size: 0, wantErr: "size 0 outside"},
		{name: "huge size", db: func() *DB { return db }, secret: "x", size: 1 << 20, wantErr: "outside 1..1024"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.db().Secret(tc.secret, tc.size)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Secret(%q, %d) error %v, want %q", tc.secret, tc.size, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.same != bytes.Equal(got, first) {
				t.Errorf("Secret(%q, %d) = %x; equal to the first (%x): %v, want %v",
					tc.secret, tc.size, got, first, !tc.same, tc.same)
			}
		})
	}
}

// TestSecretConcurrentFirstUse: racing first uses all get the one stored value.
func TestSecretConcurrentFirstUse(t *testing.T) {
	db := openTest(t, Options{})
	const n = 8
	got := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := db.Secret("k", 32)
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	for i := range got {
		if !bytes.Equal(got[i], got[0]) {
			t.Fatalf("goroutine %d got %x, goroutine 0 got %x", i, got[i], got[0])
		}
	}
}

// v1File writes what a schema-1 build left: every v1 bucket, a user's
// credential and routing's route key stored as a pseudo-user credential.
func v1File(tx *bolt.Tx) error {
	for _, name := range []string{bucketMeta, bucketBindings, bucketPresence, bucketCredentials,
		bucketInventory, bucketLastGood, bucketHistory} {
		if _, err := tx.CreateBucket([]byte(name)); err != nil {
			return err
		}
	}
	creds := tx.Bucket([]byte(bucketCredentials))
	alice, routeKey := v1Credentials()
	for _, c := range []Credential{alice, routeKey} {
		v, _ := json.Marshal(c)
		if err := creds.Put([]byte(c.User), v); err != nil {
			return err
		}
	}
	return putMeta("1")(tx)
}

// v1Credentials are the credentials v1File stores.
func v1Credentials() (alice, routeKey Credential) {
	created := time.Date(2026, 10, 1, 8, 0, 0, 0, time.UTC)
	return Credential{User: "alice", Username: "1001", Password: "alicePassword23456789abc", Created: created},
		Credential{User: "deskgate:route-key", Username: "deskgate:route-key",
			Password: "routeKeyPassword23456789", Created: created}
}

func TestMigrateFromV1(t *testing.T) {
	_, v1RouteKey := v1Credentials()
	tests := []struct {
		name      string
		setup     func(tx *bolt.Tx) error
		wantKey   []byte // nil = a new random 32-byte key
		wantAlice bool
	}{
		{name: "route key moved", setup: v1File, wantKey: []byte(v1RouteKey.Password), wantAlice: true},
		{name: "v1 without route key", setup: func(tx *bolt.Tx) error {
			if err := v1File(tx); err != nil {
				return err
			}
			return tx.Bucket([]byte(bucketCredentials)).Delete([]byte(v1RouteKey.User))
		}, wantAlice: true},
		{name: "v0 without credentials bucket", setup: func(tx *bolt.Tx) error {
			_, err := tx.CreateBucket([]byte(bucketBindings))
			return err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			rawBolt(t, path, tc.setup)
			var logs bytes.Buffer
			db := openAt(t, path, Options{Log: newTextLogger(&logs)})
			if !strings.Contains(logs.String(), "from=1 to=2") {
				t.Errorf("migration 1 -> 2 not logged: %q", logs.String())
			}
			if v := storedVersionOpen(t, db); v != SchemaVersion {
				t.Errorf("version after migration = %d", v)
			}
			key := checkV1Migrated(t, db, tc.wantKey, tc.wantAlice)
			// The migration ran once: a reopen sees the same state.
			checkV1Migrated(t, reopen(t, db, Options{}), key, tc.wantAlice)
		})
	}
}

// checkV1Migrated checks the route key (wantKey, or a new one when nil),
// that it is no credential any more, and alice's credential; it returns
// the route key.
func checkV1Migrated(t *testing.T, db *DB, wantKey []byte, wantAlice bool) []byte {
	t.Helper()
	v1Alice, v1RouteKey := v1Credentials()
	key, err := db.Secret("route-key", 32)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case wantKey != nil && !bytes.Equal(key, wantKey):
		t.Errorf("route key = %q, want the v1 credential's password %q", key, wantKey)
	case wantKey == nil && len(key) != 32:
		t.Errorf("route key has %d bytes, want a new 32-byte key", len(key))
	}
	if _, ok, err := db.LookupCredential(v1RouteKey.User); err != nil || ok {
		t.Errorf("route key still a credential after the migration (found %v, err %v)", ok, err)
	}
	alice, ok, err := db.LookupCredential("alice")
	if err != nil || ok != wantAlice {
		t.Errorf("alice's credential found %v (err %v), want %v", ok, err, wantAlice)
	}
	if diff := diffJSON(alice, v1Alice); wantAlice && diff != "" {
		t.Errorf("alice's credential changed: %s", diff)
	}
	return key
}
