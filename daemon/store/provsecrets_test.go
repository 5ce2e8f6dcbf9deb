package store

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestSecretBinding(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db := openAt(t, path, Options{})
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	bind := func(addr string) func(SecretBinding, bool) (SecretBinding, bool) {
		return func(cur SecretBinding, found bool) (SecretBinding, bool) {
			if found && cur.Address != "" {
				return cur, false
			}
			cur.Address, cur.BoundAt = addr, now
			return cur, true
		}
	}
	// Concurrent first fetches: exactly one address wins.
	var wg sync.WaitGroup
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := db.UpdateSecretBinding("00-15-65-AA-BB-01", bind(a)); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := db.UpdateSecretBinding("001565aabb01", bind("192.0.2.9"))
	if err != nil {
		t.Fatal(err)
	}
	if got.MAC != "00:15:65:aa:bb:01" || got.Address == "" || got.Address == "192.0.2.9" {
		t.Fatalf("binding after the race: %+v", got)
	}
	if _, err := db.UpdateSecretBinding("not a mac", bind("x")); err == nil {
		t.Error("invalid MAC accepted")
	}
	// Survives a restart.
	db = reopen(t, db, Options{})
	all, err := db.SecretBindings()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 1 || all[0] != got {
		t.Fatalf("after reopen: %+v, want %+v", all, got)
	}
}
