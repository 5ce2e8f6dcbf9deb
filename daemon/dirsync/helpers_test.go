package dirsync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"
)

// waitBound bounds every wait for something the source must do. Changes are
// expected in well under a second; the margin is for -race on a loaded box.
const waitBound = 3 * time.Second

// recorder is the apply and report callbacks of one Run, remembering calls.
type recorder struct {
	origin string
	reject func(raw []byte) error // nil: accept everything

	mu       sync.Mutex
	applies  []string
	accepted []bool
	reports  []error
	clears   int      // report(nil) calls: the source works again
	badCalls []string // calls with the wrong origin
}

func (r *recorder) apply(_ context.Context, raw []byte, origin string) error {
	var err error
	if r.reject != nil {
		err = r.reject(raw)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if origin != r.origin {
		r.badCalls = append(r.badCalls, origin)
	}
	r.applies = append(r.applies, string(raw))
	r.accepted = append(r.accepted, err == nil)
	return err
}

func (r *recorder) report(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil {
		r.clears++ // the source is healthy again
		return
	}
	r.reports = append(r.reports, err)
}

// mark returns the current counts, to look only at later calls.
func (r *recorder) mark() (applies, reports int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.applies), len(r.reports)
}

// appliesSince returns the documents given to apply from index i on, and
// those of them apply accepted.
func (r *recorder) appliesSince(i int) (all, accepted []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j := i; j < len(r.applies); j++ {
		all = append(all, r.applies[j])
		if r.accepted[j] {
			accepted = append(accepted, r.applies[j])
		}
	}
	return all, accepted
}

func (r *recorder) reportsSince(i int) []error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reports[i:])
}

func (r *recorder) checkOrigins(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.badCalls) > 0 {
		t.Errorf("apply got origins %q, want %q", r.badCalls, r.origin)
	}
}

// rejectInvalid stands in for directory.Parse: documents starting with
// "invalid" are rejected, and so are half-written ones (without the "#end"
// line that every test document ends with).
func rejectInvalid(raw []byte) error {
	if bytes.HasPrefix(raw, []byte("invalid")) {
		return errors.New("invalid document")
	}
	if !bytes.HasSuffix(raw, []byte("#end\n")) {
		return fmt.Errorf("truncated document (%d bytes)", len(raw))
	}
	return nil
}

// doc returns a test document that rejectInvalid accepts.
func doc(version string) string {
	return "version: " + version + "\nusers: []\n#end\n"
}

// run starts src.Run and stops it at cleanup, checking it returns nil.
func run(t *testing.T, src Source, rec *recorder) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, rec.apply, rec.report) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run returned %v after cancel, want nil", err)
			}
		case <-time.After(waitBound):
			t.Errorf("Run did not return within %s of cancel", waitBound)
		}
		rec.checkOrigins(t)
	})
}

// eventually polls cond until it holds or waitBound passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", waitBound, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitApplied waits until apply accepted want after call index from, and
// checks want is the only document accepted since.
func waitApplied(t *testing.T, rec *recorder, from int, want string) {
	t.Helper()
	eventually(t, fmt.Sprintf("apply accepts %q", want), func() bool {
		_, acc := rec.appliesSince(from)
		return slices.Contains(acc, want)
	})
	if _, acc := rec.appliesSince(from); !slices.Equal(acc, []string{want}) {
		t.Errorf("accepted since the change: %q, want only %q", acc, want)
	}
}

// waitReport waits until a report since index from satisfies match.
func waitReport(t *testing.T, rec *recorder, from int, what string, match func(error) bool) error {
	t.Helper()
	var found error
	eventually(t, "report: "+what, func() bool {
		for _, err := range rec.reportsSince(from) {
			if err != nil && match(err) {
				found = err
				return true
			}
		}
		return false
	})
	return found
}

// writeAtomic replaces path the way editors and config tools do: a temporary
// file in the same directory renamed over it.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tmp.WriteString(content); err != nil {
		t.Fatal(err)
	}
	if err := tmp.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		t.Fatal(err)
	}
}
