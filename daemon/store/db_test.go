package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// openTest opens a fresh database in a temporary directory, closed at cleanup.
func openTest(t testing.TB, opts Options) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "state.db"), opts)
}

func openAt(t testing.TB, path string, opts Options) *DB {
	t.Helper()
	db, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// reopen closes db and opens its file again with opts.
func reopen(t testing.TB, db *DB, opts Options) *DB {
	t.Helper()
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return openAt(t, db.Path(), opts)
}

// rawBolt writes a file with plain bbolt, as an older or newer build would.
func rawBolt(t *testing.T, path string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer bdb.Close()
	if err := bdb.Update(fn); err != nil {
		t.Fatalf("bolt.Update: %v", err)
	}
}

// storedVersion reads schema_version with plain bbolt ("" when absent).
func storedVersion(t *testing.T, path string) string {
	t.Helper()
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatalf("bolt.Open: %v", err)
	}
	defer bdb.Close()
	var v string
	_ = bdb.View(func(tx *bolt.Tx) error {
		if m := tx.Bucket([]byte(bucketMeta)); m != nil {
			v = string(m.Get([]byte(keySchemaVersion)))
		}
		return nil
	})
	return v
}

func putMeta(value string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		m, err := tx.CreateBucketIfNotExists([]byte(bucketMeta))
		if err != nil {
			return err
		}
		return m.Put([]byte(keySchemaVersion), []byte(value))
	}
}

func TestOpenSchema(t *testing.T) {
	current, next := strconv.Itoa(SchemaVersion), strconv.Itoa(SchemaVersion+1)
	tests := []struct {
		name     string
		setup    func(t *testing.T, path string)
		wantErr  error  // sentinel the error must match, if any
		wantMsg  string // substring of the error; "" = must open
		wantVers string // schema_version on disk afterwards
	}{
		{name: "new file", setup: func(*testing.T, string) {}, wantVers: current},
		{name: "zero-size file", setup: func(t *testing.T, p string) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, wantVers: current},
		{name: "current version", setup: func(t *testing.T, p string) {
			db, err := Open(p, Options{})
			if err != nil {
				t.Fatal(err)
			}
			_ = db.Close()
		}, wantVers: current},
		{name: "v0 without meta bucket", setup: func(t *testing.T, p string) {
			rawBolt(t, p, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte(bucketBindings))
				return err
			})
		}, wantVers: current},
		{name: "v0 meta without version", setup: func(t *testing.T, p string) {
			rawBolt(t, p, func(tx *bolt.Tx) error {
				_, err := tx.CreateBucket([]byte(bucketMeta))
				return err
			})
		}, wantVers: current},
		{name: "v1", setup: func(t *testing.T, p string) { rawBolt(t, p, v1File) }, wantVers: current},
		{name: "too new", setup: func(t *testing.T, p string) { rawBolt(t, p, putMeta(next)) },
			wantErr:  ErrSchemaTooNew,
			wantMsg:  "state db schema version " + next + " is newer than this deskgated supports (" + current + "); refusing to open",
			wantVers: next},
		{name: "garbage version", setup: func(t *testing.T, p string) { rawBolt(t, p, putMeta("one")) },
			wantMsg: `schema version "one"`, wantVers: "one"},
		{name: "negative version", setup: func(t *testing.T, p string) { rawBolt(t, p, putMeta("-1")) },
			wantMsg: `schema version "-1"`, wantVers: "-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tt.setup(t, path)
			db, err := Open(path, Options{})
			if tt.wantMsg == "" {
				checkOpened(t, db, err)
			} else {
				checkRefused(t, db, err, tt.wantErr, tt.wantMsg)
			}
			if got := storedVersion(t, path); got != tt.wantVers {
				t.Errorf("stored schema_version = %q, want %q", got, tt.wantVers)
			}
		})
	}
}

// checkOpened asserts a successful Open with every declared bucket, then closes.
func checkOpened(t *testing.T, db *DB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range declaredBuckets() {
			if tx.Bucket([]byte(name)) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		return nil
	})
}

// checkRefused asserts a failed Open whose error matches sentinel (if any)
// and contains msg.
func checkRefused(t *testing.T, db *DB, err, sentinel error, msg string) {
	t.Helper()
	if err == nil {
		_ = db.Close()
		t.Fatalf("Open succeeded, want error containing %q", msg)
	}
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("error %q does not contain %q", err, msg)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Errorf("errors.Is(%v, %v) = false", err, sentinel)
	}
}

func TestOpenFileMode(t *testing.T) {
	db := openTest(t, Options{})
	fi, err := os.Stat(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("mode = %v, want 0600", got)
	}
}

func TestMigrationsCoverEveryVersion(t *testing.T) {
	steps := migrations()
	if len(steps) != SchemaVersion {
		t.Fatalf("%d migration steps for schema version %d", len(steps), SchemaVersion)
	}
	for v, step := range steps {
		if step == nil {
			t.Errorf("no migration from version %d", v)
		}
	}
}

func TestMigrateFromV0Inventory(t *testing.T) {
	t0 := time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC)
	stored := map[string]InventoryPhone{
		"00-15-65-AA-BB-01": {MAC: "00-15-65-AA-BB-01", Vendor: "yealink", Model: "T54W", Address: "10.0.0.5",
			FirstSeen: t0, LastSeen: t0.Add(time.Hour)},
		"001565aabb01": {MAC: "001565aabb01", Address: "10.0.0.9", Source: "pnp",
			FirstSeen: t0.Add(2 * time.Hour), LastSeen: t0.Add(3 * time.Hour)},
		"00:15:65:aa:bb:02": {MAC: "00:15:65:aa:bb:02", Vendor: "yealink", FirstSeen: t0, LastSeen: t0},
		"not-a-mac":         {MAC: "not-a-mac", FirstSeen: t0, LastSeen: t0},
	}
	path := filepath.Join(t.TempDir(), "state.db")
	rawBolt(t, path, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucket([]byte(bucketInventory))
		if err != nil {
			return err
		}
		for k, p := range stored {
			v, _ := json.Marshal(p)
			if err := b.Put([]byte(k), v); err != nil {
				return err
			}
		}
		return nil
	})
	var logs bytes.Buffer
	db := openAt(t, path, Options{Log: newTextLogger(&logs)})
	got, err := db.Inventory()
	if err != nil {
		t.Fatal(err)
	}
	want := []InventoryPhone{
		{MAC: "00:15:65:aa:bb:01", Vendor: "yealink", Model: "T54W", Address: "10.0.0.9", Source: "pnp",
			FirstSeen: t0, LastSeen: t0.Add(3 * time.Hour)},
		{MAC: "00:15:65:aa:bb:02", Vendor: "yealink", FirstSeen: t0, LastSeen: t0},
		{MAC: "not-a-mac", FirstSeen: t0, LastSeen: t0},
	}
	if diff := diffJSON(got, want); diff != "" {
		t.Error(diff)
	}
	if !strings.Contains(logs.String(), "migrated state db schema") {
		t.Errorf("migration not logged: %q", logs.String())
	}
	if v := storedVersionOpen(t, db); v != SchemaVersion {
		t.Errorf("version after migration = %d", v)
	}
}

// storedVersionOpen reads the version through the open handle.
func storedVersionOpen(t *testing.T, db *DB) int {
	t.Helper()
	var v int
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		v, _, err = readVersion(tx)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOpenLocked(t *testing.T) {
	// bbolt locks with flock(2), which is per open file description: a second
	// Open in the same process contends exactly like another process.
	db := openTest(t, Options{})
	type result struct {
		db  *DB
		err error
	}
	done := make(chan result, 1)
	go func() {
		db2, err := Open(db.Path(), Options{Timeout: 200 * time.Millisecond})
		done <- result{db2, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("second Open blocked instead of timing out")
	}
	if r.err == nil {
		_ = r.db.Close()
		t.Fatal("second Open of a locked database succeeded")
	}
	if !errors.Is(r.err, ErrLocked) || !errors.Is(r.err, berrors.ErrTimeout) {
		t.Errorf("error %v: want ErrLocked wrapping bbolt's ErrTimeout", r.err)
	}
	want := "state database " + db.Path() + " is locked: is another deskgated running?"
	if r.err.Error() != want {
		t.Errorf("error = %q, want %q", r.err, want)
	}
	// Once released, the file opens again.
	reopen(t, db, Options{Timeout: 200 * time.Millisecond})
}

func TestOpenUnreadableFileLeftUntouched(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	garbage := bytes.Repeat([]byte("not a bolt file "), 2048)
	if err := os.WriteFile(path, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err == nil {
		_ = db.Close()
		t.Fatal("Open of a garbage file succeeded")
	}
	if !strings.Contains(err.Error(), "left untouched") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should name the file and say it was left untouched", err)
	}
	after, readErr := os.ReadFile(path)
	if readErr != nil || !bytes.Equal(after, garbage) {
		t.Errorf("file changed or removed after a failed open (read error %v)", readErr)
	}
}

func TestOpenFreshInitFailureRemovesFile(t *testing.T) {
	// A read-only descriptor makes bbolt's initial write fail on a new file,
	// as a full disk would; the half-made file must not block the next start.
	readOnly := func(name string, flag int, perm os.FileMode) (*os.File, error) {
		return os.OpenFile(name, os.O_RDONLY|os.O_CREATE, perm)
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{name: "missing", setup: func(*testing.T, string) {}},
		{name: "zero size", setup: func(t *testing.T, p string) {
			if err := os.WriteFile(p, nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "state.db")
			tt.setup(t, path)
			db, err := open(path, Options{}, readOnly)
			if err == nil {
				_ = db.Close()
				t.Fatal("open with a read-only descriptor succeeded")
			}
			if !strings.Contains(err.Error(), "create state database") {
				t.Errorf("error = %q", err)
			}
			if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
				t.Errorf("failed new file still there (stat error %v)", statErr)
			}
			openAt(t, path, Options{}) // the next start works
		})
	}
}

func TestCloseTwice(t *testing.T) {
	db := openTest(t, Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestCheckName(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{name: "plain", in: "alice"},
		{name: "empty", in: "", wantErr: true},
		{name: "nul", in: "al\x00ice", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkName("user", tt.in); (err != nil) != tt.wantErr {
				t.Errorf("checkName(%q) = %v, wantErr %v", tt.in, err, tt.wantErr)
			}
		})
	}
}

func newTextLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, nil))
}

// diffJSON compares values through their JSON form (times compare by
// instant and zone offset, as they are stored) and describes a mismatch.
func diffJSON(got, want any) string {
	g, _ := json.MarshalIndent(got, "", "  ")
	w, _ := json.MarshalIndent(want, "", "  ")
	if bytes.Equal(g, w) {
		return ""
	}
	return "got:\n" + string(g) + "\nwant:\n" + string(w)
}
