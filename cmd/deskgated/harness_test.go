package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binDir holds deskgated and deskgatectl built once for every test here.
var binDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "deskgate-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	build := exec.Command("go", "build", "-o", dir+"/", "deskgate/cmd/deskgated", "deskgate/cmd/deskgatectl")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build binaries: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// daemonProc is one deskgated started by a test.
type daemonProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	dir    string // config dir: deskgate.yaml, office.yaml, state/, control.sock
	socket string
	notify *notifySock
	stderr *syncBuf
	done   chan error
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Write(p) }
func (s *syncBuf) String() string              { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// writeConfig writes deskgate.yaml into dir with extra YAML appended.
func writeConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	cfg := "site: test\ndomain: hq.example.test\nstate_dir: state\ncontrol: {socket: control.sock}\n"
	// Defaults a test may replace by naming the section in extra.
	for _, def := range []string{"sip: {listen: [\"udp:127.0.0.1:0\"]}\n", "provisioning: {listen: \"\"}\n",
		"discovery: {mdns: false, pnp: false}\n"} {
		key, _, _ := strings.Cut(def, ":")
		if !strings.Contains(extra, key+":") {
			cfg += def
		}
	}
	cfg += extra
	p := filepath.Join(dir, "deskgate.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// startDaemon runs deskgated on the config in dir and waits for READY=1.
func startDaemon(t *testing.T, dir string, env ...string) *daemonProc {
	t.Helper()
	ns := newNotifySock(t)
	p := &daemonProc{t: t, dir: dir, socket: filepath.Join(dir, "control.sock"), notify: ns,
		stderr: &syncBuf{}, done: make(chan error, 1)}
	p.cmd = exec.Command(filepath.Join(binDir, "deskgated"), "-config", filepath.Join(dir, "deskgate.yaml"))
	p.cmd.Env = append(os.Environ(), append([]string{"NOTIFY_SOCKET=" + ns.path}, env...)...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start deskgated: %v", err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() { p.kill() })
	if _, err := ns.waitFor("READY=1", 15*time.Second); err != nil {
		t.Fatalf("deskgated not ready: %v\nstderr:\n%s", err, p.stderr)
	}
	return p
}

// stop sends SIGTERM and returns the exit error and how long it took.
func (p *daemonProc) stop() (error, time.Duration) {
	start := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		return err, time.Since(start)
	case <-time.After(10 * time.Second):
		p.kill()
		return errors.New("no exit within 10s of SIGTERM"), time.Since(start)
	}
}

func (p *daemonProc) kill() {
	if p.cmd.ProcessState == nil {
		_ = p.cmd.Process.Kill()
		select {
		case err := <-p.done:
			p.done <- err
		case <-time.After(5 * time.Second):
		}
	}
}

// ctl runs deskgatectl against this daemon and returns stdout, stderr, exit code.
func (p *daemonProc) ctl(args ...string) (string, string, int) {
	return runCtl(p.t, p.socket, args...)
}

func runCtl(t *testing.T, socket string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "deskgatectl"), append([]string{"--socket", socket}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run deskgatectl: %v", err)
	}
	return out.String(), errb.String(), code
}

// ctlJSON runs a deskgatectl command with --json and decodes its output.
func (p *daemonProc) ctlJSON(v any, args ...string) {
	p.t.Helper()
	out, errs, code := p.ctl(append(args, "--json")...)
	if code != 0 {
		p.t.Fatalf("deskgatectl %v: exit %d: %s\ndaemon stderr:\n%s", args, code, errs, p.stderr)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		p.t.Fatalf("deskgatectl %v: bad JSON %q: %v", args, out, err)
	}
}

type statusJSON struct {
	Ready     bool `json:"ready"`
	Directory struct {
		Version string `json:"version"`
		Source  string `json:"source"`
		Error   string `json:"error"`
	} `json:"directory"`
	Registrations int `json:"registrations"`
}

func (p *daemonProc) status() statusJSON {
	var s statusJSON
	p.ctlJSON(&s, "status")
	return s
}

// eventually polls cond every 20 ms until it holds or the bound passes.
func eventually(t *testing.T, bound time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, bound)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// notifySock is a fake systemd NOTIFY_SOCKET.
type notifySock struct {
	path string
	conn *net.UnixConn
	mu   sync.Mutex
	msgs []string
	seen chan struct{}
}

func newNotifySock(t *testing.T) *notifySock {
	t.Helper()
	dir, err := os.MkdirTemp("", "dgn")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	n := &notifySock{path: path, conn: conn, seen: make(chan struct{}, 1)}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				return
			}
			n.mu.Lock()
			n.msgs = append(n.msgs, string(buf[:k]))
			n.mu.Unlock()
			select {
			case n.seen <- struct{}{}:
			default:
			}
		}
	}()
	return n
}

// messages returns every datagram received so far.
func (n *notifySock) messages() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.msgs...)
}

// waitFor waits for a datagram, received after the first `skip` ones,
// containing want; it returns the datagram.
func (n *notifySock) waitFor(want string, bound time.Duration) (string, error) {
	return n.waitAfter(0, want, bound)
}

func (n *notifySock) waitAfter(skip int, want string, bound time.Duration) (string, error) {
	deadline := time.After(bound)
	for {
		msgs := n.messages()
		for i := skip; i < len(msgs); i++ {
			if strings.Contains(msgs[i], want) {
				return msgs[i], nil
			}
		}
		select {
		case <-n.seen:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return "", fmt.Errorf("no %q among %q", want, msgs)
		}
	}
}
