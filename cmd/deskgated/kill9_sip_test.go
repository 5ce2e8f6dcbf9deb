package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sipOffice has the two users whose phones TestKill9SIP registers.
const sipOffice = `version: "kill9"
plan: pro
timezone: UTC
users:
  - id: alice
    name: Alice Able
    extension: "1001"
    license: talk
  - id: bob
    name: Bob Baker
    extension: "1002"
    license: talk
`

// TestKill9SIP: two phones register, alice calls bob, bob answers; then
// deskgated is SIGKILLed and started again on the same config, state and
// port. The registrations are listed at once (from the store, nobody
// re-registered) and alice's BYE still reaches bob through the new process
// (Record-Route token checked with the route key from the store).
func TestKill9SIP(t *testing.T) {
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not on PATH (apt-get install sip-tester): skipping SIP kill -9 test")
	}
	// One block of free ports: daemon, alice, bob, the registering sipp,
	// then 4 media ports per sipp (it binds them at start).
	base := freePortBlock(t, 16)
	sipPort, alicePort, bobPort, regPort := base, base+1, base+2, base+3
	media := func(i int) int { return base + 4 + 4*i }

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(sipOffice), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("site: test\ndomain: hq.example.test\nstate_dir: state\ncontrol: {socket: control.sock}\n"+
		"sip: {listen: [\"udp:127.0.0.1:%d\"]}\nprovisioning: {listen: \"\"}\ndiscovery: {mdns: false, pnp: false}\n"+
		"directory: {file: office.yaml}\n", sipPort)
	if err := os.WriteFile(filepath.Join(dir, "deskgate.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, dir)
	remote := "127.0.0.1:" + strconv.Itoa(sipPort)

	var alice, bob struct{ Username, Password string }
	d.ctlJSON(&alice, "credentials", "alice")
	d.ctlJSON(&bob, "credentials", "bob")
	line := func(user, pw string, port int) string {
		return fmt.Sprintf("%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]\n", user, pw, port, user, pw)
	}
	users := writeCSV(t, line(alice.Username, alice.Password, alicePort)+line(bob.Username, bob.Password, bobPort))
	callerCSV := writeCSV(t, line(alice.Username, alice.Password, alicePort))

	bobPhone := startSipp(t, sippBin, "bob-phone", 30*time.Second, "-sf", sippScenario(t, "uas_answer.xml"),
		"-p", itoa(bobPort), "-mp", itoa(media(0)), "-m", "1")
	reg := startSipp(t, sippBin, "register", 10*time.Second, "-sf", sippScenario(t, "reg.xml"),
		"-p", itoa(regPort), "-mp", itoa(media(1)), "-m", "2", "-inf", users, "-key", "expires", "300", remote)
	if code := reg.wait(); code != 0 {
		t.Fatalf("register: sipp exit %d\n%s", code, reg.output())
	}
	if got := registeredUsers(d); !slices.Equal(got, []string{"alice@" + itoa(alicePort), "bob@" + itoa(bobPort)}) {
		t.Fatalf("registrations before the kill: %v", got)
	}

	caller := startSipp(t, sippBin, "alice-caller", 30*time.Second, "-sf", sippScenario(t, "uac_call.xml"),
		"-p", itoa(alicePort), "-mp", itoa(media(2)), "-m", "1", "-inf", callerCSV, "-s", bob.Username,
		"-d", "5000", remote)
	eventually(t, 10*time.Second, "the call to be answered", func() bool {
		var calls []struct{ State string }
		d.ctlJSON(&calls, "calls")
		return len(calls) == 1 && calls[0].State == "answered"
	})

	d.kill() // SIGKILL: no shutdown, no drain, whatever bbolt had in flight
	if d.cmd.ProcessState == nil || d.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("deskgated not killed by SIGKILL: %v", d.cmd.ProcessState)
	}
	d = startDaemon(t, dir)
	if got := registeredUsers(d); !slices.Equal(got, []string{"alice@" + itoa(alicePort), "bob@" + itoa(bobPort)}) {
		t.Errorf("registrations right after the restart: %v, want alice's and bob's phones", got)
	}
	if n := len(bobPhone.received("BYE")); n != 0 {
		t.Logf("the BYE was sent before the restart finished (retransmitted to the new process)")
	}

	// The caller ends only after its BYE got 200, which only bob sends; bob
	// ends only after that BYE (uas_answer.xml waits for it).
	if code := caller.wait(); code != 0 {
		t.Fatalf("caller: sipp exit %d\n%s\ndaemon stderr:\n%s", code, caller.output(), d.stderr)
	}
	if code := bobPhone.wait(); code != 0 {
		t.Fatalf("bob's phone: sipp exit %d\n%s", code, bobPhone.output())
	}
	byes := bobPhone.received("BYE")
	if len(byes) == 0 {
		t.Fatal("bob's phone got no BYE")
	}
	if via := headerValue(byes[0], "Via"); !strings.Contains(via, remote) {
		t.Errorf("BYE's top Via %q is not deskgated's (%s): it bypassed the proxy", via, remote)
	}
}

// registeredUsers lists "user@contact-port" from deskgatectl registrations.
func registeredUsers(d *daemonProc) []string {
	var regs []struct{ User, Contact string }
	d.ctlJSON(&regs, "registrations")
	var out []string
	for _, r := range regs {
		port := r.Contact
		if i := strings.LastIndex(port, ":"); i >= 0 {
			port = port[i+1:]
		}
		port, _, _ = strings.Cut(strings.TrimSuffix(port, ">"), ";")
		out = append(out, r.User+"@"+port)
	}
	slices.Sort(out)
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }

func sippScenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// writeCSV writes a sipp -inf file (sequential) and returns its path.
func writeCSV(t *testing.T, lines string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.csv")
	if err := os.WriteFile(p, []byte("SEQUENTIAL\n"+lines), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// freePortBlock returns the first of n consecutive ports free on
// 127.0.0.1 (UDP) right now.
func freePortBlock(t *testing.T, n int) int {
	t.Helper()
	for range 200 {
		l, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		base := l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		if base+n <= 65535 && udpFree(base, n) {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports", n)
	return 0
}

func udpFree(base, n int) bool {
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		c, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		held = append(held, c)
	}
	return true
}

// sippProc is one bounded sipp run.
type sippProc struct {
	name string
	dir  string
	cmd  *exec.Cmd
	out  *syncBuf
	done chan struct{}
	err  error
}

// startSipp runs sipp with args plus tracing, bounded by its -timeout and
// a watchdog (sipp's -timeout is not a hard bound): TERM after bound+5s,
// KILL 3s later; the test's cleanup stops it by PID.
func startSipp(t *testing.T, bin, name string, bound time.Duration, args ...string) *sippProc {
	t.Helper()
	dir := t.TempDir()
	all := append([]string{"-nostdin", "-nd", "-i", "127.0.0.1", "-t", "u1",
		"-timeout", itoa(int(bound.Seconds())), "-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log")}, args...)
	p := &sippProc{name: name, dir: dir, out: &syncBuf{}, done: make(chan struct{})}
	p.cmd = exec.Command(bin, all...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start sipp %s: %v", name, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	go func() {
		select {
		case <-p.done:
		case <-time.After(bound + 5*time.Second):
			p.stop()
		}
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("sipp %s messages:\n%s", name, p.messages())
		}
	})
	return p
}

func (p *sippProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// wait returns sipp's exit status (0: every call succeeded; -1: signalled).
func (p *sippProc) wait() int {
	<-p.done
	var ee *exec.ExitError
	switch {
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	case p.err != nil:
		return -1
	}
	return 0
}

func (p *sippProc) messages() string {
	data, _ := os.ReadFile(filepath.Join(p.dir, "messages.log"))
	return string(data)
}

func (p *sippProc) output() string {
	errs, _ := os.ReadFile(filepath.Join(p.dir, "errors.log"))
	return p.out.String() + "\n--- errors ---\n" + string(errs)
}

// received returns the received messages (from -trace_msg) whose first
// line starts with prefix.
func (p *sippProc) received(prefix string) []string {
	var out []string
	var cur *strings.Builder
	flush := func() {
		if msg := strings.TrimSpace(cur.String()); strings.HasPrefix(msg, prefix) {
			out = append(out, msg)
		}
		cur = nil
	}
	for _, line := range strings.Split(strings.ReplaceAll(p.messages(), "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "----------------"):
			if cur != nil {
				flush()
			}
		case cur == nil && strings.Contains(line, " message received "):
			cur = &strings.Builder{}
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if cur != nil {
		flush()
	}
	return out
}

// headerValue is the first value of a header in a traced message.
func headerValue(msg, name string) string {
	for _, l := range strings.Split(msg, "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.EqualFold(strings.TrimSpace(k), name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
