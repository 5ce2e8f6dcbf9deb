package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// linphone drives linphonec (Debian package linphone-cli, 5.1) as a real
// phone: commands on its stdin, its console lines ("Receiving new incoming
// call from …", "Call 1 with … connected.", "… ended (…)") read from
// stdout. Audio goes to and from files ("soundcard use files"), so no
// sound card is needed.
type linphone struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan struct{}

	mu    sync.Mutex
	lines []string
	seen  chan struct{}
}

// requireLinphone skips the test when linphonec is not installed (make
// test and CI install it: Makefile TEST_DEBS).
func requireLinphone(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("linphonec"); err != nil {
		t.Skip("linphonec not on PATH (apt-get install linphone-cli): skipping real-softphone test")
	}
}

// startLinphone runs linphonec registered as acct (UDP) through the
// daemon, which is also its outbound proxy for calls.
func startLinphone(t *testing.T, acct softphone) *linphone {
	t.Helper()
	home := t.TempDir()
	// linphonec keeps its call log in a database under $HOME; without the
	// directory its core never gets going.
	if err := os.MkdirAll(filepath.Join(home, ".local", "share", "linphone"), 0o700); err != nil {
		t.Fatal(err)
	}
	proxy := "<sip:" + acct.proxy + ";transport=udp>"
	rc := strings.Join([]string{
		"[sip]", "sip_port=-1", "sip_tcp_port=0", "sip_tls_port=0", "default_proxy=0",
		"[proxy_0]", "reg_proxy=" + proxy, "reg_route=" + proxy,
		"reg_identity=sip:" + acct.ext + "@hq.example.test", "reg_expires=600", "reg_sendregister=1", "publish=0",
		"[auth_info_0]", "username=" + acct.ext, "passwd=" + acct.password, "realm=hq.example.test",
		"domain=hq.example.test",
		"[video]", "capture=0", "display=0", "automatically_initiate=0", "automatically_accept=0",
		"",
	}, "\n")
	rcPath := filepath.Join(home, "linphonerc")
	if err := os.WriteFile(rcPath, []byte(rc), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &linphone{t: t, name: acct.name, done: make(chan struct{}), seen: make(chan struct{}, 1)}
	p.cmd = exec.Command("linphonec", "-c", rcPath, "-d", "0")
	p.cmd.Env = append(os.Environ(), "HOME="+home)
	p.cmd.Dir = home
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = p.cmd.Stdout
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start linphonec: %v", err)
	}
	go p.read(out)
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("linphonec %s output:\n%s", p.name, strings.Join(p.all(), "\n"))
		}
	})
	p.send("soundcard use files")
	p.waitLine(0, "Using wav files", bound)
	return p
}

// stop ends the process we started (by its PID) and waits for it.
func (p *linphone) stop() {
	_ = p.stdin.Close()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

func (p *linphone) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		// The prompt has no newline, so an event may follow it on the line.
		line := strings.TrimSpace(strings.ReplaceAll(sc.Text(), "linphonec> ", ""))
		p.mu.Lock()
		p.lines = append(p.lines, line)
		p.mu.Unlock()
		select {
		case p.seen <- struct{}{}:
		default:
		}
	}
}

// send writes one console command.
func (p *linphone) send(cmd string) {
	p.t.Helper()
	if _, err := fmt.Fprintln(p.stdin, cmd); err != nil {
		p.t.Fatalf("linphonec %s: %s: %v", p.name, cmd, err)
	}
}

func (p *linphone) all() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// mark is the number of lines so far: waitLine(mark, …) looks only at
// later ones.
func (p *linphone) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.lines)
}

// waitLine returns the first line after from containing want.
func (p *linphone) waitLine(from int, want string, bound time.Duration) string {
	p.t.Helper()
	deadline := time.After(bound)
	for {
		lines := p.all()
		for _, l := range lines[min(from, len(lines)):] {
			if strings.Contains(l, want) {
				return l
			}
		}
		select {
		case <-p.seen:
		case <-time.After(50 * time.Millisecond):
		case <-p.done:
			p.t.Fatalf("linphonec %s exited waiting for %q", p.name, want)
		case <-deadline:
			p.t.Fatalf("linphonec %s: no %q within %v; since then: %q", p.name, want, bound, lines[min(from, len(lines)):])
		}
	}
}
