// Package sipptest owns running sipp (Debian sip-tester) from Go tests as
// real phones, callers and trunks: free ports, a bounded run (sipp's own
// -timeout plus a watchdog that stops the process by PID), and the message
// trace (-trace_msg) parsed so tests can assert what a peer received. It
// must not import anything but the standard library; tests skip when sipp
// is not on PATH.
package sipptest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Require skips the test when sipp is not installed (CI installs it).
func Require(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("sipp")
	if err != nil {
		t.Skip("sipp not on PATH (apt-get install sip-tester): skipping sipp integration test")
	}
	return p
}

// Options describe one sipp run.
type Options struct {
	Name      string            // label for logs and trace files
	Scenario  string            // scenario XML path
	OOC       string            // out-of-call scenario (-oocsf), optional
	Remote    string            // host:port of the server; "" for a pure UAS
	Transport string            // "u1" (default) or "t1"
	LocalIP   string            // -i and -bind_local; default 127.0.0.1 (not bound)
	Port      int               // -p; 0 = a free port
	Calls     int               // -m; default 1
	Rate      int               // -r calls per second; default sipp's
	Service   string            // -s (Request-URI user)
	Inf       string            // -inf CSV path
	Keys      map[string]string // -key name value
	Pause     time.Duration     // -d (length of <pause/>)
	Timeout   time.Duration     // -timeout and the watchdog; default 20s
	Extra     []string          // anything else
}

// Process is a running sipp.
type Process struct {
	Name  string
	Port  int
	dir   string
	cmd   *exec.Cmd
	done  chan struct{}
	err   error
	mu    sync.Mutex
	killd bool
	out   bytes.Buffer
}

// Start runs sipp in the background; the test's cleanup stops it by PID.
func Start(t testing.TB, o Options) *Process {
	t.Helper()
	bin := Require(t)
	if o.Name == "" {
		o.Name = strings.TrimSuffix(filepath.Base(o.Scenario), ".xml")
	}
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Port == 0 {
		o.Port = FreePorts(t, 1)
	}
	dir := t.TempDir()
	p := &Process{Name: o.Name, Port: o.Port, dir: dir, done: make(chan struct{})}
	p.cmd = exec.Command(bin, args(o, dir, FreePorts(t, 4))...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start sipp %s: %v", o.Name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	go p.watchdog(o.Timeout + 5*time.Second)
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("sipp %s output:\n%s\nmessages:\n%s", p.Name, p.Output(), p.rawMessages())
		}
	})
	return p
}

func args(o Options, dir string, media int) []string {
	a := []string{"-sf", o.Scenario, "-nostdin", "-nd",
		"-i", cmpOr(o.LocalIP, "127.0.0.1"), "-p", strconv.Itoa(o.Port), "-mp", strconv.Itoa(media),
		"-m", strconv.Itoa(max(o.Calls, 1)), "-t", cmpOr(o.Transport, "u1"),
		"-timeout", strconv.Itoa(max(int(o.Timeout.Seconds()), 1)), "-timeout_error",
		"-trace_msg", "-message_file", filepath.Join(dir, "messages.log"),
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
		"-trace_screen", "-screen_file", filepath.Join(dir, "screen.log"),
	}
	if o.LocalIP != "" {
		a = append(a, "-bind_local")
	}
	if o.OOC != "" {
		a = append(a, "-oocsf", o.OOC)
	}
	if o.Rate > 0 {
		a = append(a, "-r", strconv.Itoa(o.Rate))
	}
	if o.Service != "" {
		a = append(a, "-s", o.Service)
	}
	if o.Inf != "" {
		a = append(a, "-inf", o.Inf)
	}
	if o.Pause > 0 {
		a = append(a, "-d", strconv.Itoa(int(o.Pause.Milliseconds())))
	}
	keys := make([]string, 0, len(o.Keys))
	for k := range o.Keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a = append(a, "-key", k, o.Keys[k])
	}
	a = append(a, o.Extra...)
	if o.Remote != "" {
		a = append(a, o.Remote)
	}
	return a
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// watchdog stops a sipp that outlives its bound: sipp's -timeout is not a
// hard limit (testdata/sipp/README pitfall 1).
func (p *Process) watchdog(d time.Duration) {
	select {
	case <-p.done:
	case <-time.After(d):
		p.mu.Lock()
		p.killd = true
		p.mu.Unlock()
		p.Stop()
	}
}

// Stop ends the process: TERM, then KILL after 3 s; safe to call twice.
func (p *Process) Stop() {
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

// Wait waits for the process to end by itself (bounded by the watchdog)
// and returns sipp's exit status: 0 = every call succeeded.
func (p *Process) Wait() int {
	<-p.done
	return p.ExitCode()
}

// WaitCtx is Wait bounded by ctx; it returns -1 when ctx ends first.
func (p *Process) WaitCtx(ctx context.Context) int {
	select {
	case <-p.done:
		return p.ExitCode()
	case <-ctx.Done():
		return -1
	}
}

// ExitCode is the exit status once done (-1 while running or if killed).
func (p *Process) ExitCode() int {
	select {
	case <-p.done:
	default:
		return -1
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		return -1
	}
	return 0
}

// WatchdogFired reports whether the process had to be stopped by force.
func (p *Process) WatchdogFired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killd
}

// Output is what sipp printed plus its error and screen logs.
func (p *Process) Output() string {
	var b strings.Builder
	b.WriteString(p.out.String())
	for _, f := range []string{"errors.log", "screen.log"} {
		if data, err := os.ReadFile(filepath.Join(p.dir, f)); err == nil {
			fmt.Fprintf(&b, "\n--- %s ---\n%s", f, data)
		}
	}
	return b.String()
}

func (p *Process) rawMessages() string {
	data, _ := os.ReadFile(filepath.Join(p.dir, "messages.log"))
	return string(data)
}

// Message is one SIP message from the trace.
type Message struct {
	Sent bool
	Text string
}

// FirstLine is the request or status line.
func (m Message) FirstLine() string {
	l, _, _ := strings.Cut(m.Text, "\n")
	return strings.TrimSpace(l)
}

// Header returns every value of a header (case-insensitive name).
func (m Message) Header(name string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(m.Text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			break
		}
		k, v, ok := strings.Cut(line, ":")
		if ok && strings.EqualFold(strings.TrimSpace(k), name) {
			out = append(out, strings.TrimSpace(v))
		}
	}
	return out
}

// Messages parses the trace written so far.
func (p *Process) Messages() []Message {
	return ParseTrace(p.rawMessages())
}

// Received lists received messages whose first line starts with prefix
// (e.g. "CANCEL", "SIP/2.0 486").
func (p *Process) Received(prefix string) []Message {
	var out []Message
	for _, m := range p.Messages() {
		if !m.Sent && strings.HasPrefix(m.FirstLine(), prefix) {
			out = append(out, m)
		}
	}
	return out
}

// ParseTrace splits a sipp -trace_msg log into messages.
func ParseTrace(s string) []Message {
	var out []Message
	var cur *Message
	var body strings.Builder
	flush := func() {
		if cur != nil {
			cur.Text = strings.TrimSpace(body.String())
			out = append(out, *cur)
		}
		cur = nil
		body.Reset()
	}
	for _, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "----------------"):
			flush()
		case cur == nil && strings.Contains(line, " message received "):
			cur = &Message{}
		case cur == nil && strings.Contains(line, " message sent "):
			cur = &Message{Sent: true}
		case cur != nil:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	flush()
	return out
}

// FreePorts returns the first of n consecutive ports that are free on
// 127.0.0.1 for both UDP and TCP right now (sipp binds its media ports
// next to -mp).
func FreePorts(t testing.TB, n int) int {
	t.Helper()
	for range 200 {
		l, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		base := l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		if base+n > 65535 {
			continue
		}
		if portsFree(base, n) {
			return base
		}
	}
	t.Fatalf("no %d consecutive free ports found", n)
	return 0
}

func portsFree(base, n int) bool {
	var closers []func() error
	defer func() {
		for _, c := range closers {
			_ = c()
		}
	}()
	for p := base; p < base+n; p++ {
		addr := "127.0.0.1:" + strconv.Itoa(p)
		u, err := net.ListenPacket("udp4", addr)
		if err != nil {
			return false
		}
		closers = append(closers, u.Close)
		tl, err := net.Listen("tcp4", addr)
		if err != nil {
			return false
		}
		closers = append(closers, tl.Close)
	}
	return true
}
