// Package store owns deskgated's persistent runtime state: one bbolt file with
// declared buckets (registrations, presence, credentials, phone inventory, the
// last good directory, call history, daemon secrets, event subscriptions,
// provisioning secret bindings), its
// schema version and its migrations. Values are JSON so the file stays
// readable and forward compatible. It must not import any deskgate package: callers own the meaning
// of what they store.
package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// SchemaVersion is the on-disk schema this build writes. Files written by an
// older build are migrated at Open; files from a newer build are refused.
const SchemaVersion = 2

const (
	defaultTimeout      = time.Second
	defaultHistoryLimit = 500
	fileMode            = 0o600
)

// Declared buckets. The JSON field names of the stored types are part of the
// schema: renaming one needs a migration.
const (
	bucketMeta        = "meta"
	bucketBindings    = "bindings"
	bucketPresence    = "presence"
	bucketCredentials = "credentials"
	bucketInventory   = "inventory"
	bucketLastGood    = "lastgood"
	bucketHistory     = "history" // one nested bucket per user
	bucketSecrets     = "secrets" // since schema 2

	keySchemaVersion = "schema_version"
)

func declaredBuckets() []string {
	return []string{bucketMeta, bucketBindings, bucketPresence, bucketCredentials,
		bucketInventory, bucketLastGood, bucketHistory, bucketSecrets, bucketSubscriptions, bucketProvSecrets}
}

var (
	// ErrLocked means another process (normally another deskgated) holds the
	// database open.
	ErrLocked = errors.New("state database is locked")
	// ErrSchemaTooNew means the file was written by a newer deskgated; it is
	// never downgraded.
	ErrSchemaTooNew = errors.New("state database schema is newer than supported")
)

// Options configures Open. Zero values get defaults.
type Options struct {
	Timeout      time.Duration // how long to wait for the file lock; default 1s
	HistoryLimit int           // call history entries kept per user; default 500
	Log          *slog.Logger  // migrations are logged here; default discards
	// FlushEvery bounds how long a queued write (bindings, history) waits
	// before it is committed; default 1s. See Queue*.
	FlushEvery time.Duration
}

// DB is the open state database. Its methods are safe for concurrent use.
type DB struct {
	bolt         *bolt.DB
	path         string
	historyLimit int
	log          *slog.Logger
	behind       *behind   // writes queued behind SIP answers (behind.go)
	creds        credCache // credentials as last read (credentials.go)
}

// Open opens or creates the state database at path (mode 0600). The directory
// must exist. It fails after opts.Timeout with an error wrapping ErrLocked when
// another process holds the file, and refuses files from a newer schema.
func Open(path string, opts Options) (*DB, error) {
	return open(path, opts, nil)
}

// open lets tests replace the file opener to make bbolt's initialisation fail.
func open(path string, opts Options, openFile func(string, int, os.FileMode) (*os.File, error)) (*DB, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = defaultTimeout
	}
	if opts.HistoryLimit <= 0 {
		opts.HistoryLimit = defaultHistoryLimit
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	fresh := isEmptyOrMissing(path)
	bdb, err := bolt.Open(path, fileMode, &bolt.Options{Timeout: opts.Timeout, OpenFile: openFile})
	if err != nil {
		return nil, openFailure(path, fresh, err)
	}
	db := &DB{bolt: bdb, path: path, historyLimit: opts.HistoryLimit, log: opts.Log}
	if err := db.prepare(); err != nil {
		_ = bdb.Close()
		return nil, err
	}
	db.behind = startBehind(db, opts.FlushEvery)
	return db, nil
}

// Ping proves the database still takes writes: an empty read-write
// transaction waits for the writer lock and commits (an fsync), so a
// wedged writer or disk shows here. For the systemd watchdog.
func (db *DB) Ping() error {
	if err := db.bolt.Update(func(*bolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("state database %s: %w", db.path, err)
	}
	return nil
}

// Close writes what is queued behind requests, then closes the database.
// Calling it again is harmless.
func (db *DB) Close() error {
	db.behind.close(db)
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close state database %s: %w", db.path, err)
	}
	return nil
}

// Path returns the file the database was opened from.
func (db *DB) Path() string { return db.path }

// Check runs bbolt's consistency check (page reachability, freelist, key
// order) and returns every problem found, joined.
func (db *DB) Check() error {
	var problems []error
	err := db.bolt.View(func(tx *bolt.Tx) error {
		for p := range tx.Check() {
			problems = append(problems, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("check state database %s: %w", db.path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("check state database %s: %w", db.path, errors.Join(problems...))
	}
	return nil
}

func isEmptyOrMissing(path string) bool {
	fi, err := os.Stat(path)
	return errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Mode().IsRegular() && fi.Size() == 0)
}

// openError keeps an operator-friendly message while still matching sentinels.
type openError struct {
	msg   string
	kinds []error
}

func (e *openError) Error() string   { return e.msg }
func (e *openError) Unwrap() []error { return e.kinds }

func openFailure(path string, fresh bool, err error) error {
	if errors.Is(err, berrors.ErrTimeout) {
		return &openError{
			msg:   fmt.Sprintf("state database %s is locked: is another deskgated running?", path),
			kinds: []error{ErrLocked, err},
		}
	}
	if fresh {
		// A file that was empty or missing holds no state; removing what a
		// failed initialisation left lets the next start retry (a torn first
		// initialisation cannot be opened: etcd #16596).
		if rmErr := os.Remove(path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) {
			err = errors.Join(err, rmErr)
		}
		return fmt.Errorf("create state database %s: %w", path, err)
	}
	// Never recreate a file that held data: it may be recoverable by hand.
	return fmt.Errorf("open state database %s (left untouched; move it aside to start with empty state): %w", path, err)
}

// prepare brings the file to SchemaVersion. The common case (already
// current) only reads, so a too-new file is never written to.
func (db *DB) prepare() error {
	var current bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		v, fresh, err := readVersion(tx)
		if err != nil {
			return err
		}
		if v > SchemaVersion {
			return db.tooNew(v)
		}
		current = !fresh && v == SchemaVersion && hasBuckets(tx)
		return nil
	})
	if err != nil || current {
		return err
	}
	return db.bolt.Update(db.upgrade)
}

func (db *DB) tooNew(v int) error {
	return &openError{
		msg: fmt.Sprintf("state db schema version %d is newer than this deskgated supports (%d); refusing to open %s",
			v, SchemaVersion, db.path),
		kinds: []error{ErrSchemaTooNew},
	}
}

// upgrade creates a new file's buckets or runs the migrations from the stored
// version, then records SchemaVersion, all in one transaction.
func (db *DB) upgrade(tx *bolt.Tx) error {
	from, fresh, err := readVersion(tx)
	switch {
	case err != nil:
		return err
	case from > SchemaVersion:
		return db.tooNew(from)
	case fresh:
		from = SchemaVersion
	}
	steps := migrations()
	for v := from; v < SchemaVersion; v++ {
		if err := steps[v](tx); err != nil {
			return fmt.Errorf("migrate state db %s from schema %d to %d: %w", db.path, v, v+1, err)
		}
		db.log.Info("migrated state db schema", "path", db.path, "from", v, "to", v+1)
	}
	for _, name := range declaredBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("create bucket %s in %s: %w", name, db.path, err)
		}
	}
	v := strconv.Itoa(SchemaVersion)
	if err := tx.Bucket([]byte(bucketMeta)).Put([]byte(keySchemaVersion), []byte(v)); err != nil {
		return fmt.Errorf("write schema version to %s: %w", db.path, err)
	}
	return nil
}

// readVersion returns the stored schema version. fresh reports a file with
// no bucket at all (just created). Buckets without a recorded version are a
// pre-release file: version 0.
func readVersion(tx *bolt.Tx) (version int, fresh bool, err error) {
	meta := tx.Bucket([]byte(bucketMeta))
	if meta == nil {
		k, _ := tx.Cursor().First()
		return 0, k == nil, nil
	}
	raw := meta.Get([]byte(keySchemaVersion))
	if raw == nil {
		return 0, false, nil
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil || v < 0 {
		return 0, false, fmt.Errorf("read state db schema version %q: not a version number", raw)
	}
	return v, false, nil
}

func hasBuckets(tx *bolt.Tx) bool {
	for _, name := range declaredBuckets() {
		if tx.Bucket([]byte(name)) == nil {
			return false
		}
	}
	return true
}

// migrations returns the schema upgrade steps indexed by the version they
// upgrade from: migrations()[v] turns schema v into v+1.
func migrations() []func(*bolt.Tx) error {
	return []func(*bolt.Tx) error{
		0: migrateFromV0,
		1: migrateFromV1,
	}
}

// migrateFromV0 upgrades a pre-release file (buckets, no schema_version):
// pre-release builds keyed the inventory by the MAC as the discovery source
// spelled it, so the same phone could appear twice; v1 keys it by the
// normalised MAC and merges the duplicates.
func migrateFromV0(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists([]byte(bucketInventory))
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketInventory, err)
	}
	return rekeyInventory(b)
}

// bucket returns a declared top-level bucket; Open guarantees it exists.
func bucket(tx *bolt.Tx, name string) (*bolt.Bucket, error) {
	b := tx.Bucket([]byte(name))
	if b == nil {
		return nil, fmt.Errorf("bucket %s missing", name)
	}
	return b, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode %s: %w", key, err)
	}
	return b.Put(key, data)
}

// getJSON decodes the value at key into v and reports whether it was there.
func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

// checkName rejects empty names and NUL, which separates compound keys.
func checkName(what, s string) error {
	if s == "" {
		return fmt.Errorf("empty %s", what)
	}
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("%s %q contains NUL", what, s)
	}
	return nil
}
