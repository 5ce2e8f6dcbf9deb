package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// baresip drives one baresip process (Debian package baresip, 1.0) as a
// real phone: no audio hardware (aubridge plays and records in memory, a
// bridge per phone), controlled through its ctrl_tcp module (JSON in
// netstrings: commands answered with a token, and call events).
type baresip struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	out  *syncBuf // baresip's own output, shown when a test fails
	done chan struct{}
	conn net.Conn

	mu     sync.Mutex
	events []baresipEvent
	resps  map[string]baresipResponse
	seen   chan struct{} // pinged (without blocking) on every message
	seq    int
}

// baresipEvent is a ctrl_tcp event, e.g. CALL_INCOMING, CALL_ESTABLISHED,
// CALL_CLOSED (Param: the reason, e.g. "480 DND on").
type baresipEvent struct {
	Type      string `json:"type"`
	Class     string `json:"class"`
	AOR       string `json:"accountaor"`
	Direction string `json:"direction"`
	PeerURI   string `json:"peeruri"`
	ID        string `json:"id"`
	Param     string `json:"param"`
}

type baresipResponse struct {
	OK   bool   `json:"ok"`
	Data string `json:"data"`
}

// baresipModules is where Debian installs baresip's modules.
const baresipModules = "/usr/lib/baresip/modules"

// requireBaresip skips the test when baresip is not installed (make test
// and CI install it: Makefile TEST_DEBS).
func requireBaresip(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("baresip"); err != nil {
		t.Skip("baresip not on PATH (apt-get install baresip): skipping real-softphone test")
	}
	if _, err := os.Stat(filepath.Join(baresipModules, "ctrl_tcp.so")); err != nil {
		t.Fatalf("baresip is installed but its modules are not in %s: %v", baresipModules, err)
	}
}

// softphone is one account on the daemon.
type softphone struct {
	name      string // label in logs; also the aubridge device
	ext       string // SIP username = extension
	password  string
	proxy     string // daemon "127.0.0.1:port"
	transport string // "udp" (default) or "tcp"
}

// startBaresip runs baresip for acct and connects to its ctrl_tcp port.
// It is stopped (SIGTERM, then SIGKILL) when the test ends.
func startBaresip(t *testing.T, acct softphone) *baresip {
	t.Helper()
	dir := t.TempDir()
	ctrl := sipptest.FreePorts(t, 1)
	conf := strings.Join([]string{
		"poll_method epoll",
		"sip_listen 127.0.0.1:0",
		"net_interface 127.0.0.1",
		"audio_player aubridge," + acct.name,
		"audio_source aubridge," + acct.name,
		"audio_alert aubridge," + acct.name,
		"module_path " + baresipModules,
		"module g711.so",
		"module aubridge.so",
		"module_app account.so",
		"module_app menu.so",
		"module_app ctrl_tcp.so",
		"ctrl_tcp_listen 127.0.0.1:" + strconv.Itoa(ctrl),
		"",
	}, "\n")
	outbound := "sip:" + acct.proxy
	if acct.transport == "tcp" {
		outbound += ";transport=tcp"
	}
	account := fmt.Sprintf("<sip:%s@hq.example.test>;auth_pass=%s;outbound=\"%s\";regint=600;answermode=manual\n",
		acct.ext, acct.password, outbound)
	for name, text := range map[string]string{"config": conf, "accounts": account, "contacts": ""} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	p := &baresip{t: t, name: acct.name, out: &syncBuf{}, done: make(chan struct{}),
		resps: map[string]baresipResponse{}, seen: make(chan struct{}, 1)}
	p.cmd = exec.Command("baresip", "-f", dir)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start baresip %s: %v", acct.name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.stop)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("baresip %s output:\n%s", p.name, p.out)
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(ctrl), time.Second)
		if err == nil {
			p.conn = c
			break
		}
		select {
		case <-p.done:
			t.Fatalf("baresip %s exited: %s", acct.name, p.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("baresip %s: ctrl_tcp not up within 10s: %v\n%s", acct.name, err, p.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	go p.read()
	return p
}

// stop ends the process we started (by its PID) and waits for it.
func (p *baresip) stop() {
	if p.conn != nil {
		p.conn.Close()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// read decodes ctrl_tcp netstrings until the connection closes.
func (p *baresip) read() {
	r := bufio.NewReader(p.conn)
	for {
		n, err := r.ReadString(':')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(n[:len(n)-1])
		if err != nil || size < 0 || size > 1<<20 {
			return
		}
		buf := make([]byte, size+1) // the JSON and the trailing comma
		if _, err := io.ReadFull(r, buf); err != nil {
			return
		}
		var msg struct {
			Event    bool   `json:"event"`
			Response bool   `json:"response"`
			Token    string `json:"token"`
			baresipEvent
			baresipResponse
		}
		if err := json.Unmarshal(buf[:size], &msg); err != nil {
			continue
		}
		p.mu.Lock()
		switch {
		case msg.Event:
			p.events = append(p.events, msg.baresipEvent)
		case msg.Response:
			p.resps[msg.Token] = msg.baresipResponse
		}
		p.mu.Unlock()
		select {
		case p.seen <- struct{}{}:
		default:
		}
	}
}

// command runs a baresip command (dial, accept, hangup, hold, resume)
// and returns its answer.
func (p *baresip) command(cmd, params string) string {
	p.t.Helper()
	p.mu.Lock()
	p.seq++
	token := cmd + "-" + strconv.Itoa(p.seq)
	p.mu.Unlock()
	data, err := json.Marshal(map[string]string{"command": cmd, "params": params, "token": token})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := fmt.Fprintf(p.conn, "%d:%s,", len(data), data); err != nil {
		p.t.Fatalf("baresip %s: send %s: %v", p.name, cmd, err)
	}
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		res, ok := p.resps[token]
		p.mu.Unlock()
		if ok {
			if !res.OK {
				p.t.Fatalf("baresip %s: %s %s failed: %s", p.name, cmd, params, res.Data)
			}
			return res.Data
		}
		select {
		case <-p.seen:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			p.t.Fatalf("baresip %s: no answer to %s within 10s", p.name, cmd)
		}
	}
}

// dial calls an extension (or feature code) of the demo domain.
func (p *baresip) dial(ext string) { p.command("dial", "sip:"+ext+"@hq.example.test") }

// mark is the number of events so far: waitEvent(mark, …) looks only at
// later ones.
func (p *baresip) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.events)
}

// waitEvent returns the first event of that type after from, failing the
// test when none comes within bound.
func (p *baresip) waitEvent(from int, typ string, bound time.Duration) baresipEvent {
	p.t.Helper()
	ev, err := p.awaitEvent(from, typ, bound)
	if err != nil {
		p.t.Fatalf("baresip %s: %v", p.name, err)
	}
	return ev
}

func (p *baresip) awaitEvent(from int, typ string, bound time.Duration) (baresipEvent, error) {
	deadline := time.After(bound)
	for {
		p.mu.Lock()
		for _, ev := range p.events[min(from, len(p.events)):] {
			if ev.Type == typ {
				p.mu.Unlock()
				return ev, nil
			}
		}
		p.mu.Unlock()
		select {
		case <-p.seen:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			return baresipEvent{}, errors.New("no " + typ + " within " + bound.String() + "; events: " + p.eventTypes(from))
		}
	}
}

// noEvent fails the test if an event of that type came after from.
func (p *baresip) noEvent(from int, typ string) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, ev := range p.events[min(from, len(p.events)):] {
		if ev.Type == typ {
			p.t.Errorf("baresip %s: unexpected %s (%s)", p.name, typ, ev.Param)
		}
	}
}

func (p *baresip) eventTypes(from int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, ev := range p.events[min(from, len(p.events)):] {
		if ev.Type != "CALL_RTCP" {
			out = append(out, ev.Type+"("+ev.Param+")")
		}
	}
	return strings.Join(out, " ")
}
