package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// originStore marks a directory loaded from the state db's last good copy.
const originStore = "store"

// dirState holds the running directory: one immutable snapshot behind an
// atomic pointer (readers never lock), plus what status reports about it.
type dirState struct {
	log    *slog.Logger
	db     *store.DB
	notify *notifier
	cur    atomic.Pointer[directory.Snapshot]

	mu        sync.Mutex // serialises apply and guards the fields below
	hash      [32]byte   // of the running document
	source    string
	loaded    time.Time
	rejectErr string // last rejected document, until a valid one runs
	fetchErr  string // last fetch/read error of the source, until a fetch works
	lastErrAt time.Time
	onSwap    []func(old, cur *directory.Snapshot)
	statusFn  func(dirStatus) string // must not call back into dirState
}

func newDirState(log *slog.Logger, db *store.DB, n *notifier) *dirState {
	s := &dirState{log: log.With("component", "directory"), db: db, notify: n, source: "none"}
	s.cur.Store(directory.Empty())
	return s
}

func (s *dirState) snapshot() *directory.Snapshot { return s.cur.Load() }

// apply parses raw and, if valid, swaps it in and keeps it as the last good
// document. An invalid document changes nothing but the reported error.
func (s *dirState) apply(_ context.Context, raw []byte, origin string) error {
	sum := sha256.Sum256(raw)
	s.mu.Lock()
	defer s.mu.Unlock()
	if sum == s.hash && s.source == origin {
		// The source is back to what runs: any earlier rejected change is gone.
		if s.rejectErr != "" {
			s.rejectErr = ""
			s.sendStatusLocked()
		}
		return nil
	}
	snap, err := directory.Parse(raw)
	if err != nil {
		s.rejectErr, s.lastErrAt = "rejected "+origin+" directory: "+oneLine(err.Error()), time.Now()
		s.log.Error("directory change rejected; keeping the running directory",
			"origin", origin, "version", s.cur.Load().Version(), "err", err)
		s.sendStatusLocked()
		return err
	}
	old := s.cur.Swap(snap)
	s.hash, s.source, s.loaded = sum, origin, time.Now()
	s.rejectErr, s.fetchErr = "", ""
	s.log.Info("directory applied", "origin", origin, "version", snap.Version(),
		"users", len(snap.Users()), "departments", len(snap.Departments()), "phones", len(snap.Phones()))
	if err := s.db.PutLastGood(store.LastGood{Raw: bytes.Clone(raw), Origin: origin,
		Version: snap.Version(), Saved: s.loaded}); err != nil {
		s.log.Error("keep last good directory", "err", err)
	}
	for _, f := range s.onSwap {
		f(old, snap)
	}
	s.sendStatusLocked()
	return nil
}

// useStored runs the last good document from the state db.
func (s *dirState) useStored(lg store.LastGood) error {
	snap, err := directory.Parse(lg.Raw)
	if err != nil {
		s.log.Error("last good directory in the state db does not parse", "err", err)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur.Store(snap)
	// The hash stays that of the source's bytes, so the same document from
	// the source is applied (and the source shown) once it is valid again.
	s.hash = sha256.Sum256(lg.Raw)
	s.source, s.loaded = originStore, time.Now()
	return nil
}

// fail records a fetch/read error of the source; nil clears it (the
// source answers again).
func (s *dirState) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		if s.fetchErr != "" {
			s.log.Info("directory source reachable again")
			s.fetchErr = ""
			s.sendStatusLocked()
		}
		return
	}
	msg := oneLine(err.Error())
	if msg == s.fetchErr {
		return // retries of the same failure are not news
	}
	s.fetchErr, s.lastErrAt = msg, time.Now()
	s.log.Error("directory source unusable; keeping the running directory",
		"version", s.cur.Load().Version(), "err", err)
	s.sendStatusLocked()
}

func (s *dirState) sendStatusLocked() {
	if s.statusFn != nil {
		s.notify.send("STATUS=" + s.statusFn(s.statusLocked()))
	}
}

// dirStatus is a consistent copy of what status shows about the directory.
type dirStatus struct {
	Source   string
	Loaded   time.Time
	Err      string
	ErrAt    time.Time
	Version  string
	Snapshot *directory.Snapshot
}

func (s *dirState) status() dirStatus {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.statusLocked()
}

func (s *dirState) statusLocked() dirStatus {
	snap := s.cur.Load()
	msg := s.rejectErr
	if msg == "" {
		msg = s.fetchErr
	}
	var at time.Time
	if msg != "" {
		at = s.lastErrAt
	}
	return dirStatus{Source: s.source, Loaded: s.loaded, Err: msg, ErrAt: at,
		Version: snap.Version(), Snapshot: snap}
}
