package dirsync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/fsnotify/fsnotify"
)

// File source defaults.
const (
	DefaultDebounce     = 150 * time.Millisecond
	DefaultFilePoll     = 30 * time.Second
	DefaultFileMaxBytes = 16 << 20
)

// maxSymlinkHops bounds the walk along a chain of symlinks (as the kernel's
// ELOOP limit does), so a loop cannot spin.
const maxSymlinkHops = 40

// FileOptions configure a FileSource. Zero values take the defaults.
type FileOptions struct {
	Path     string
	Debounce time.Duration // quiet time after the last event; default 150ms
	Poll     time.Duration // fallback re-check for missed events (NFS); default 30s
	MaxBytes int64         // larger files are an error; default 16 MiB
	Log      *slog.Logger
}

// FileSource delivers a local file, watched with fsnotify on its directory
// (and on the directories its symlinks point into), plus a slow poll.
// A FileSource holds no state between calls; Run keeps its own.
type FileSource struct {
	path     string
	debounce time.Duration
	maxWait  time.Duration
	poll     time.Duration
	maxBytes int64
	log      *slog.Logger

	// Test seams: the watcher constructor, and a hook called after each check.
	newWatcher func() (*fsnotify.Watcher, error)
	checked    func()
}

// NewFileSource returns a source for opts.Path. It does not touch the file:
// a missing file is reported by Fetch and Run, not here.
func NewFileSource(opts FileOptions) *FileSource {
	path := opts.Path
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	s := &FileSource{
		path:       path,
		debounce:   cmpOr(opts.Debounce, DefaultDebounce),
		poll:       cmpOr(opts.Poll, DefaultFilePoll),
		maxBytes:   cmpOr(opts.MaxBytes, DefaultFileMaxBytes),
		log:        orDiscard(opts.Log).With("component", "dirsync", "origin", OriginFile, "path", path),
		newWatcher: fsnotify.NewWatcher,
	}
	// A directory that never goes quiet (logs next to the file) must not
	// starve the debounce: fire at the latest this long after a burst began.
	s.maxWait = 5 * s.debounce
	return s
}

// cmpOr returns v, or def when v is not positive.
func cmpOr[T int64 | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}

// Origin returns OriginFile.
func (s *FileSource) Origin() string { return OriginFile }

// Path returns the absolute path of the watched file.
func (s *FileSource) Path() string { return s.path }

// Fetch reads the file now.
func (s *FileSource) Fetch(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return s.read()
}

func (s *FileSource) read() ([]byte, error) {
	f, _, err := openRegular(s.path, "directory file")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, s.maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read directory file: %w", err)
	}
	if int64(len(b)) > s.maxBytes {
		return nil, fmt.Errorf("read directory file %s: larger than %d bytes", s.path, s.maxBytes)
	}
	return b, nil
}

// Run watches the file and calls apply with its content at start and after
// every change of its bytes, until ctx is done.
func (s *FileSource) Run(ctx context.Context, apply Apply, report func(error)) error {
	r := &fileRun{s: s, apply: apply, report: orNoReport(report)}
	w, err := s.newWatcher()
	if err != nil {
		// E.g. the inotify instance limit: the poll alone still works.
		r.report(fmt.Errorf("watch %s: %w (only polling every %s)", s.path, err, s.poll))
	} else {
		r.w = w
		defer w.Close()
	}
	return r.loop(ctx)
}

// fileRun is the state of one Run call; only Run's goroutine touches it.
type fileRun struct {
	s      *FileSource
	apply  Apply
	report func(error)
	w      *fsnotify.Watcher // nil: polling only

	last     [sha256.Size]byte // hash of the last bytes given to apply
	have     bool
	watchErr string // last reported watch error, to report each one once
}

func (r *fileRun) loop(ctx context.Context) error {
	var (
		events <-chan fsnotify.Event
		errs   <-chan error
	)
	if r.w != nil {
		events, errs = r.w.Events, r.w.Errors
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	defer debounce.Stop()
	poll := time.NewTicker(r.s.poll)
	defer poll.Stop()
	var burst time.Time // when the pending burst of events began; zero: none

	r.check(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				events, errs = nil, nil
				r.report(fmt.Errorf("watch %s: watcher closed (only polling every %s)", r.s.path, r.s.poll))
				continue
			}
			if ev.Op == fsnotify.Chmod {
				continue // touch, chmod: the bytes did not change
			}
			now := time.Now()
			if burst.IsZero() {
				burst = now
			}
			debounce.Reset(min(r.s.debounce, max(burst.Add(r.s.maxWait).Sub(now), 0)))
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			r.report(fmt.Errorf("watch %s: %w", r.s.path, err))
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				debounce.Reset(r.s.debounce) // events were lost: look again
			}
		case <-debounce.C:
			burst = time.Time{}
			r.check(ctx)
		case <-poll.C:
			r.check(ctx)
		}
	}
}

// check re-arms the watches, reads the file and applies it if its bytes
// differ from the last ones given to apply (accepted or not: the same bad
// bytes are not re-applied, the next change is).
func (r *fileRun) check(ctx context.Context) {
	if r.s.checked != nil {
		defer r.s.checked()
	}
	r.rewatch()
	b, err := r.s.read()
	r.report(err) // nil: the file is readable again
	if err != nil {
		return
	}
	sum := sha256.Sum256(b)
	if r.have && sum == r.last {
		return
	}
	r.last, r.have = sum, true
	if err := r.apply(ctx, b, OriginFile); err != nil {
		r.s.log.Debug("directory file rejected; waiting for the next change", "error", err)
		return
	}
	r.s.log.Debug("directory file applied", "bytes", len(b))
}

// rewatch makes the watched set equal to watchDirs: after a symlink swap the
// target directory changes, and a deleted directory loses its watch.
func (r *fileRun) rewatch() {
	if r.w == nil {
		return
	}
	want := watchDirs(r.s.path)
	var errs []error
	for _, d := range want {
		// Add is idempotent for a directory already watched.
		if err := r.w.Add(d); err != nil {
			errs = append(errs, fmt.Errorf("watch directory %s: %w", d, err))
		}
	}
	for _, d := range r.w.WatchList() {
		if !slices.Contains(want, d) {
			_ = r.w.Remove(d) // gone already is fine
		}
	}
	err := errors.Join(errs...)
	switch {
	case err == nil:
		r.watchErr = ""
	case err.Error() != r.watchErr:
		// Reported once; the poll keeps covering until the directory is back.
		r.watchErr = err.Error()
		r.report(err)
	}
}

// watchDirs lists the real directories holding path and every link on its
// symlink chain (Kubernetes: office.yaml -> ..data/office.yaml, ..data ->
// ..v1), sorted and without duplicates.
func watchDirs(path string) []string {
	dirs := []string{realDir(path)}
	p := path
	for range maxSymlinkHops {
		target, err := os.Readlink(p)
		if err != nil {
			break // not a symlink (or gone): the chain ends here
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
		dirs = append(dirs, realDir(p))
	}
	slices.Sort(dirs)
	return slices.Compact(dirs)
}

// realDir is the directory of p with symlinks resolved, so two spellings of
// one directory are watched once; the lexical directory if that fails.
func realDir(p string) string {
	d := filepath.Dir(p)
	if r, err := filepath.EvalSymlinks(d); err == nil {
		return r
	}
	return d
}
