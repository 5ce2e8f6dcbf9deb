package dirsync

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// fileStep changes the file system, then expects apply to accept want, or
// (want == "") a report matching report.
type fileStep struct {
	name   string
	do     func(t *testing.T, dir string)
	want   string
	report func(error) bool
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
func isDirErr(err error) bool   { return errors.Is(err, syscall.EISDIR) }

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, link string) {
	t.Helper()
	must(t, os.MkdirAll(filepath.Dir(link), 0o755))
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}

// relink points link at target atomically (new link renamed over the old).
func relink(t *testing.T, target, link string) {
	t.Helper()
	tmp := link + ".tmp"
	symlink(t, target, tmp)
	if err := os.Rename(tmp, link); err != nil {
		t.Fatal(err)
	}
}

// truncateWrite rewrites path in place in three pieces with pauses longer
// than the debounce, so the source sees (and apply rejects) partial files.
func truncateWrite(t *testing.T, path, content string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	third := len(content) / 3
	for _, part := range []string{content[:third], content[third : 2*third], content[2*third:]} {
		time.Sleep(30 * time.Millisecond)
		if _, err := f.WriteString(part); err != nil {
			t.Fatal(err)
		}
	}
}

// k8sSwap does what the kubelet does to a ConfigMap volume: write a new
// timestamped directory, repoint ..data at it by rename, drop the old one.
func k8sSwap(t *testing.T, dir, from, to, content string) {
	t.Helper()
	write(t, filepath.Join(dir, to, "office.yaml"), content)
	relink(t, to, filepath.Join(dir, "..data"))
	if err := os.RemoveAll(filepath.Join(dir, from)); err != nil {
		t.Fatal(err)
	}
}

// fileCase is a file layout, what Run must do at start, and changes.
type fileCase struct {
	name    string
	path    string // relative to the test directory; default office.yaml
	layout  func(t *testing.T, dir string)
	poll    time.Duration // default: an hour, so only events can trigger
	initial fileStep
	steps   []fileStep
}

func fileCases() []fileCase {
	return []fileCase{{
		name:    "rename over",
		layout:  func(t *testing.T, dir string) { write(t, filepath.Join(dir, "office.yaml"), doc("1")) },
		initial: fileStep{want: doc("1")},
		steps: []fileStep{
			{name: "replace", do: func(t *testing.T, dir string) { writeAtomic(t, filepath.Join(dir, "office.yaml"), doc("2")) }, want: doc("2")},
			{name: "replace again", do: func(t *testing.T, dir string) { writeAtomic(t, filepath.Join(dir, "office.yaml"), doc("3")) }, want: doc("3")},
		},
	}, {
		name:    "truncate and write in place",
		layout:  func(t *testing.T, dir string) { write(t, filepath.Join(dir, "office.yaml"), doc("1")) },
		initial: fileStep{want: doc("1")},
		steps: []fileStep{
			{name: "slow write", do: func(t *testing.T, dir string) { truncateWrite(t, filepath.Join(dir, "office.yaml"), doc("22222222")) }, want: doc("22222222")},
			{name: "quick write", do: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "office.yaml"), doc("3")) }, want: doc("3")},
		},
	}, {
		name:    "remove then create",
		layout:  func(t *testing.T, dir string) { write(t, filepath.Join(dir, "office.yaml"), doc("1")) },
		initial: fileStep{want: doc("1")},
		steps: []fileStep{
			{name: "remove", do: func(t *testing.T, dir string) { must(t, os.Remove(filepath.Join(dir, "office.yaml"))) }, report: isNotExist},
			{name: "create", do: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "office.yaml"), doc("2")) }, want: doc("2")},
		},
	}, {
		name: "kubernetes configmap swap",
		layout: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "..v1", "office.yaml"), doc("1"))
			symlink(t, "..v1", filepath.Join(dir, "..data"))
			symlink(t, "..data/office.yaml", filepath.Join(dir, "office.yaml"))
		},
		initial: fileStep{want: doc("1")},
		steps: []fileStep{
			{name: "swap to v2", do: func(t *testing.T, dir string) { k8sSwap(t, dir, "..v1", "..v2", doc("2")) }, want: doc("2")},
			{name: "swap to v3", do: func(t *testing.T, dir string) { k8sSwap(t, dir, "..v2", "..v3", doc("3")) }, want: doc("3")},
		},
	}, {
		name: "symlink into another directory",
		layout: func(t *testing.T, dir string) {
			write(t, filepath.Join(dir, "b", "real.yaml"), doc("1"))
			write(t, filepath.Join(dir, "c", "other.yaml"), doc("3"))
			symlink(t, "../b/real.yaml", filepath.Join(dir, "a", "office.yaml"))
		},
		path:    "a/office.yaml",
		initial: fileStep{want: doc("1")},
		steps: []fileStep{
			{name: "edit target in place", do: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "b", "real.yaml"), doc("2")) }, want: doc("2")},
			{name: "repoint link", do: func(t *testing.T, dir string) { relink(t, "../c/other.yaml", filepath.Join(dir, "a", "office.yaml")) }, want: doc("3")},
			{name: "edit new target in place", do: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "c", "other.yaml"), doc("4")) }, want: doc("4")},
			{name: "old target no longer counts", do: func(t *testing.T, dir string) {
				write(t, filepath.Join(dir, "b", "real.yaml"), doc("old"))
				write(t, filepath.Join(dir, "c", "other.yaml"), doc("5"))
			}, want: doc("5")},
		},
	}, {
		name:    "directory in place of the file",
		layout:  func(t *testing.T, dir string) { must(t, os.Mkdir(filepath.Join(dir, "office.yaml"), 0o755)) },
		initial: fileStep{report: isDirErr},
		steps: []fileStep{
			{name: "replace by a file", do: func(t *testing.T, dir string) {
				must(t, os.Remove(filepath.Join(dir, "office.yaml")))
				write(t, filepath.Join(dir, "office.yaml"), doc("1"))
			}, want: doc("1")},
		},
	}, {
		name:    "missing at start",
		layout:  func(t *testing.T, dir string) {},
		initial: fileStep{report: isNotExist},
		steps: []fileStep{
			{name: "create", do: func(t *testing.T, dir string) { writeAtomic(t, filepath.Join(dir, "office.yaml"), doc("1")) }, want: doc("1")},
		},
	}, {
		name:    "directory missing at start",
		path:    "etc/office.yaml",
		layout:  func(t *testing.T, dir string) {},
		poll:    20 * time.Millisecond, // nothing to watch yet: the poll finds it
		initial: fileStep{report: isNotExist},
		steps: []fileStep{
			{name: "create", do: func(t *testing.T, dir string) { write(t, filepath.Join(dir, "etc", "office.yaml"), doc("1")) }, want: doc("1")},
			{name: "replace", do: func(t *testing.T, dir string) { writeAtomic(t, filepath.Join(dir, "etc", "office.yaml"), doc("2")) }, want: doc("2")},
		},
	}}
}

func TestFileChanges(t *testing.T) {
	for _, tt := range fileCases() {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.layout(t, dir)
			path := filepath.Join(dir, cmpOrString(tt.path, "office.yaml"))
			src := NewFileSource(FileOptions{Path: path, Debounce: 20 * time.Millisecond, Poll: cmpOr(tt.poll, time.Hour)})
			rec := &recorder{origin: OriginFile, reject: rejectInvalid}
			run(t, src, rec)
			checkStep(t, rec, 0, 0, tt.initial)
			for _, st := range tt.steps {
				t.Run(st.name, func(t *testing.T) {
					applies, reports := rec.mark()
					st.do(t, dir)
					checkStep(t, rec, applies, reports, st)
				})
			}
		})
	}
}

func cmpOrString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func checkStep(t *testing.T, rec *recorder, applies, reports int, st fileStep) {
	t.Helper()
	if st.want != "" {
		waitApplied(t, rec, applies, st.want)
		return
	}
	err := waitReport(t, rec, reports, "read error", st.report)
	if _, acc := rec.appliesSince(applies); len(acc) > 0 {
		t.Errorf("applied %q after a read error", acc)
	}
	t.Logf("reported: %v", err)
}

// TestFileUnreadable uses mode 000, which root ignores; the directory case
// in TestFileChanges covers unreadable files for root.
func TestFileUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("running as root: mode 000 does not stop reads (see the directory-in-place case)")
	}
	path := filepath.Join(t.TempDir(), "office.yaml")
	write(t, path, doc("1"))
	if err := os.Chmod(path, 0); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{origin: OriginFile, reject: rejectInvalid}
	run(t, NewFileSource(FileOptions{Path: path, Debounce: 20 * time.Millisecond, Poll: time.Hour}), rec)
	waitReport(t, rec, 0, "permission denied", func(err error) bool { return errors.Is(err, fs.ErrPermission) })
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	waitApplied(t, rec, 0, doc("1"))
}

// A directory that never goes quiet must not starve the debounce.
func TestFileBusyDirectory(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "office.yaml")
	write(t, path, doc("1"))
	rec := &recorder{origin: OriginFile, reject: rejectInvalid}
	run(t, NewFileSource(FileOptions{Path: path, Debounce: 40 * time.Millisecond, Poll: time.Hour}), rec)
	waitApplied(t, rec, 0, doc("1"))

	ctx, cancel := context.WithCancel(context.Background())
	noise := make(chan struct{})
	go func() { // a log file next door, written every 5 ms
		defer close(noise)
		for i := 0; ctx.Err() == nil && i < 2000; i++ {
			_ = os.WriteFile(filepath.Join(dir, "noise.log"), []byte{byte(i)}, 0o644)
			time.Sleep(5 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-noise }()
	writeAtomic(t, path, doc("2"))
	waitApplied(t, rec, 1, doc("2"))
}

// Without a watcher (inotify limits), the poll alone delivers changes.
func TestFilePollOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "office.yaml")
	write(t, path, doc("1"))
	src := NewFileSource(FileOptions{Path: path, Poll: 20 * time.Millisecond})
	src.newWatcher = func() (*fsnotify.Watcher, error) { return nil, syscall.EMFILE }
	rec := &recorder{origin: OriginFile, reject: rejectInvalid}
	run(t, src, rec)
	waitApplied(t, rec, 0, doc("1"))
	err := waitReport(t, rec, 0, "watcher error", func(err error) bool { return errors.Is(err, syscall.EMFILE) })
	if !strings.Contains(err.Error(), "only polling") {
		t.Errorf("report %q does not say the source falls back to polling", err)
	}
	writeAtomic(t, path, doc("2"))
	waitApplied(t, rec, 1, doc("2"))
}

func TestFileFetch(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "office.yaml"), doc("1"))
	write(t, filepath.Join(dir, "big.yaml"), strings.Repeat("x", 65))
	write(t, filepath.Join(dir, "exact.yaml"), strings.Repeat("x", 64))
	tests := []struct {
		name    string
		file    string
		want    string
		wantErr string
	}{
		{name: "ok", file: "office.yaml", want: doc("1")},
		{name: "exactly the limit", file: "exact.yaml", want: strings.Repeat("x", 64)},
		{name: "over the limit", file: "big.yaml", wantErr: "larger than 64 bytes"},
		{name: "missing", file: "nope.yaml", wantErr: "no such file"},
		{name: "directory", file: ".", wantErr: "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := NewFileSource(FileOptions{Path: filepath.Join(dir, tt.file), MaxBytes: 64})
			got, err := src.Fetch(context.Background())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Fetch error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("Fetch = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestFileRunOversize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "office.yaml")
	write(t, path, strings.Repeat("y", 100)+doc("1"))
	rec := &recorder{origin: OriginFile, reject: rejectInvalid}
	run(t, NewFileSource(FileOptions{Path: path, MaxBytes: 64, Debounce: 20 * time.Millisecond, Poll: time.Hour}), rec)
	err := waitReport(t, rec, 0, "too large", func(err error) bool { return strings.Contains(err.Error(), "larger than 64 bytes") })
	if !strings.Contains(err.Error(), path) {
		t.Errorf("report %q does not name %s", err, path)
	}
	writeAtomic(t, path, doc("2"))
	waitApplied(t, rec, 0, doc("2"))
}

func TestWatchDirs(t *testing.T) {
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "k8s", "..v1", "office.yaml"), "x")
	symlink(t, "..v1", filepath.Join(dir, "k8s", "..data"))
	symlink(t, "..data/office.yaml", filepath.Join(dir, "k8s", "office.yaml"))
	write(t, filepath.Join(dir, "real", "office.yaml"), "x")
	symlink(t, filepath.Join(dir, "real", "office.yaml"), filepath.Join(dir, "abs.yaml"))
	symlink(t, "loop2", filepath.Join(dir, "loop1"))
	symlink(t, "loop1", filepath.Join(dir, "loop2"))
	tests := []struct {
		name, path string
		want       []string
	}{
		{"plain file", filepath.Join(dir, "real", "office.yaml"), []string{filepath.Join(dir, "real")}},
		{"missing file", filepath.Join(dir, "nope", "office.yaml"), []string{filepath.Join(dir, "nope")}},
		{"kubernetes layout", filepath.Join(dir, "k8s", "office.yaml"), []string{filepath.Join(dir, "k8s"), filepath.Join(dir, "k8s", "..v1")}},
		{"absolute link", filepath.Join(dir, "abs.yaml"), []string{dir, filepath.Join(dir, "real")}},
		{"symlink loop ends", filepath.Join(dir, "loop1"), []string{dir}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := watchDirs(tt.path); !slices.Equal(got, tt.want) {
				t.Errorf("watchDirs(%s) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}

// A FIFO planted at the file's path must neither block the source nor be
// ignored: it is reported, and a regular file put back is applied.
func TestFileFIFO(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "office.yaml")
	must(t, syscall.Mkfifo(path, 0o644))
	fetched := make(chan error, 1)
	go func() {
		_, err := NewFileSource(FileOptions{Path: path}).Fetch(context.Background())
		fetched <- err
	}()
	select {
	case err := <-fetched:
		if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "named pipe") {
			t.Fatalf("Fetch of a FIFO: %v, want ErrNotRegular naming a named pipe", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Fetch of a FIFO blocked")
	}

	rec := &recorder{origin: OriginFile, reject: rejectInvalid}
	run(t, NewFileSource(FileOptions{Path: path, Debounce: 20 * time.Millisecond, Poll: time.Hour}), rec)
	waitReport(t, rec, 0, "FIFO reported", func(err error) bool { return errors.Is(err, ErrNotRegular) })
	must(t, os.Remove(path))
	writeAtomic(t, path, doc("2"))
	waitApplied(t, rec, 0, doc("2"))
}

func TestReadTokenFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	must(t, syscall.Mkfifo(path, 0o600))
	done := make(chan error, 1)
	go func() { _, err := readToken(path); done <- err }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrNotRegular) {
			t.Fatalf("readToken of a FIFO: %v, want ErrNotRegular", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("readToken of a FIFO blocked")
	}
}
