package store

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The crash test re-executes the test binary as a writer child (this
// variable carries the database path) and SIGKILLs it mid-write.
const (
	crashChildEnv  = "DESKGATE_STORE_CRASH_DB"
	crashPrefixEnv = "DESKGATE_STORE_CRASH_PREFIX"
	crashRounds    = 5
	crashRoundTime = 20 * time.Second
)

// crashExpires is far in the future so committed bindings are live when checked.
func crashExpires() time.Time { return time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC) }

// TestHelperWriter is not a test: it is the child process of TestCrashKill9.
// It writes numbered records of every kind, one transaction each, and prints
// "committed N EXTRA" only after the commit returned.
func TestHelperWriter(t *testing.T) {
	path := os.Getenv(crashChildEnv)
	if path == "" {
		t.Skip("helper process for TestCrashKill9")
	}
	prefix := os.Getenv(crashPrefixEnv)
	db, err := Open(path, Options{HistoryLimit: 1 << 20})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	// Bounded even if the parent never kills us.
	deadline := time.Now().Add(crashRoundTime)
	for i := 0; i < 200_000 && time.Now().Before(deadline); i++ {
		extra, err := crashWrite(db, prefix, i)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		// One write(2) of less than PIPE_BUF: a line arrives whole or not at all.
		fmt.Printf("committed %d %s\n", i, extra)
	}
	_ = db.Close()
	os.Exit(0)
}

// crashWrite writes record i; the returned extra is what the parent checks
// beyond presence (the generated password), "-" if nothing.
func crashWrite(db *DB, prefix string, i int) (string, error) {
	switch i % 4 {
	case 0:
		return "-", db.PutBinding(Binding{User: prefix + "-b", Contact: fmt.Sprintf("sip:%d@192.0.2.1", i),
			CSeq: uint32(i), Expires: crashExpires(), Updated: time.Now()})
	case 1:
		return "-", db.AppendHistory(prefix+"-h", HistoryEntry{Time: time.Now(), Direction: DirectionIn,
			Peer: "+4930", Result: ResultAnswered, CallID: strconv.Itoa(i)})
	case 2:
		return "-", db.PutPresence(Presence{User: fmt.Sprintf("%s-p-%d", prefix, i), DND: true,
			Away: []string{strconv.Itoa(i)}, Updated: time.Now()})
	default:
		c, err := db.Credential(fmt.Sprintf("%s-c-%d", prefix, i), strconv.Itoa(i))
		return c.Password, err
	}
}

func TestCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	path := filepath.Join(t.TempDir(), "state.db")
	committed := make(map[string]map[int]string) // prefix → record → extra
	for round := range crashRounds {
		prefix := fmt.Sprintf("r%d", round)
		// Mostly mid-stream kills, sometimes right after the first commits.
		waitFor := 1 + rng.IntN(400)
		lines, stderr := runAndKill(t, path, prefix, waitFor, time.Duration(rng.IntN(3000))*time.Microsecond)
		recs, err := parseCommitted(lines)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if len(recs) < waitFor {
			t.Fatalf("round %d: child reported %d commits, waited for %d; stderr: %s", round, len(recs), waitFor, stderr)
		}
		committed[prefix] = recs
		t.Logf("round %d: killed after %d reported commits", round, len(recs))
		verifyCrashDB(t, path, committed)
	}
}

// runAndKill starts the writer, waits for waitFor progress lines and a
// little more, SIGKILLs it, and returns every complete line it printed.
func runAndKill(t *testing.T, path, prefix string, waitFor int, extra time.Duration) ([]string, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+path, crashPrefixEnv+"="+prefix)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go readLines(out, lines)

	var got []string
	timeout := time.NewTimer(crashRoundTime)
	defer timeout.Stop()
	for len(got) < waitFor {
		select {
		case l, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("writer exited after %d lines: %s", len(got), stderr.String())
			}
			got = append(got, l)
		case <-timeout.C:
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("writer printed %d lines in %v, waited for %d: %s", len(got), crashRoundTime, waitFor, stderr.String())
		}
	}
	time.Sleep(extra)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("kill writer: %v", err)
	}
	for l := range lines { // lines printed before death are committed too
		got = append(got, l)
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("writer did not die of SIGKILL: %v; stderr: %s", err, stderr.String())
	}
	return got, stderr.String()
}

// readLines sends every newline-terminated line; a torn last line is dropped.
func readLines(r io.Reader, lines chan<- string) {
	defer close(lines)
	br := bufio.NewReader(r)
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			return
		}
		lines <- strings.TrimSuffix(l, "\n")
	}
}

func parseCommitted(lines []string) (map[int]string, error) {
	recs := make(map[int]string)
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) != 3 || f[0] != "committed" {
			continue // test framework chatter
		}
		i, err := strconv.Atoi(f[1])
		if err != nil {
			return nil, fmt.Errorf("bad progress line %q", l)
		}
		recs[i] = f[2]
	}
	return recs, nil
}

// verifyCrashDB reopens the database after a kill, runs bbolt's consistency
// check and looks up every record any child reported as committed.
func verifyCrashDB(t *testing.T, path string, committed map[string]map[int]string) {
	t.Helper()
	db, err := Open(path, Options{Timeout: 5 * time.Second, HistoryLimit: 1 << 20})
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer db.Close()
	if err := db.Check(); err != nil {
		t.Fatalf("consistency check after kill: %v", err)
	}
	for prefix, recs := range committed {
		have, err := crashContents(db, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for i, extra := range recs {
			if i%4 == 3 {
				user := fmt.Sprintf("%s-c-%d", prefix, i)
				c, ok, err := db.LookupCredential(user)
				if err != nil || !ok || c.Password != extra || c.Username != strconv.Itoa(i) {
					t.Errorf("credential %s reported committed with password %q; stored %+v, found %v, error %v",
						user, extra, c, ok, err)
				}
				continue
			}
			if !have[fmt.Sprintf("%d/%d", i%4, i)] {
				t.Errorf("%s record %d (kind %d) reported committed but missing", prefix, i, i%4)
			}
		}
	}
}

// crashContents indexes the bindings, history and presence one child round
// left in the database as "kind/record" keys.
func crashContents(db *DB, prefix string) (map[string]bool, error) {
	have := make(map[string]bool)
	bs, err := db.Bindings(prefix+"-b", time.Now())
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		have[fmt.Sprintf("0/%d", b.CSeq)] = true
	}
	hs, err := db.History(prefix+"-h", 0)
	if err != nil {
		return nil, err
	}
	for _, h := range hs {
		have["1/"+h.CallID] = true
	}
	ps, err := db.AllPresence()
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		if n, ok := strings.CutPrefix(p.User, prefix+"-p-"); ok && p.DND && len(p.Away) == 1 && p.Away[0] == n {
			have["2/"+n] = true
		}
	}
	return have, nil
}
