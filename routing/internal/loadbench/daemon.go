package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// daemonProc is the deskgated under test.
type daemonProc struct {
	cmd    *exec.Cmd
	ctl    string // deskgatectl binary
	socket string
	log    string
	done   chan struct{}
	err    error
}

// startDaemon runs deskgated on cfg and waits until status says ready.
func (b *bench) startDaemon(ctx context.Context, cfg string) (*daemonProc, error) {
	logPath := filepath.Join(b.work, "deskgated.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("daemon log: %w", err)
	}
	defer logf.Close()
	d := &daemonProc{ctl: filepath.Join(b.bin, "deskgatectl"), socket: filepath.Join(b.work, "control.sock"),
		log: logPath, done: make(chan struct{})}
	d.cmd = command(b.daemonCPUs, filepath.Join(b.bin, "deskgated"), "-config", cfg)
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = childAttr()
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start deskgated: %w", err)
	}
	b.track(d.stop)
	go func() { d.err = d.cmd.Wait(); close(d.done) }()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var st struct{ Ready bool }
		err := d.ctlJSON(ctx, &st, "status")
		if err == nil && st.Ready {
			return d, nil
		}
		select {
		case <-d.done:
			return nil, fmt.Errorf("deskgated exited at start (%v); log:\n%s", d.err, d.logTail(20))
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("deskgated not ready after 15s (last: %v); log:\n%s", err, d.logTail(20))
		}
	}
}

// ctlJSON runs `deskgatectl --socket S args... --json` and decodes stdout.
func (d *daemonProc) ctlJSON(ctx context.Context, v any, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.ctl, append(append([]string{"--socket", d.socket}, args...), "--json")...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("deskgatectl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	if err := json.Unmarshal(out.Bytes(), v); err != nil {
		return fmt.Errorf("deskgatectl %s: decode %q: %w", strings.Join(args, " "), out.String(), err)
	}
	return nil
}

// password is the user's SIP password, from deskgatectl credentials.
func (d *daemonProc) password(ctx context.Context, user string) (string, error) {
	var c struct{ Username, Password string }
	if err := d.ctlJSON(ctx, &c, "credentials", user); err != nil {
		return "", err
	}
	if c.Password == "" {
		return "", fmt.Errorf("credentials of %s: empty password", user)
	}
	return c.Password, nil
}

// bindings counts the registrations per user.
func (d *daemonProc) bindings(ctx context.Context) (map[string]int, error) {
	var regs []struct{ User string }
	if err := d.ctlJSON(ctx, &regs, "registrations"); err != nil {
		return nil, err
	}
	n := make(map[string]int)
	for _, r := range regs {
		n[r.User]++
	}
	return n, nil
}

// stop ends deskgated by PID (TERM, KILL after 10 s) and reports how it ended.
func (d *daemonProc) stop() {
	select {
	case <-d.done:
		return
	default:
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

// exited reports whether deskgated is gone (it must not be during a phase).
func (d *daemonProc) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

func (d *daemonProc) logTail(n int) string {
	data, _ := os.ReadFile(d.log)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n")
}

// procSample is what /proc says about the daemon.
type procSample struct {
	PeakKB int64         // VmHWM: peak resident set since start or the last resetPeak
	RSSKB  int64         // VmRSS now
	AnonKB int64         // RssAnon: heap and stacks (the rest is mostly the bbolt mmap)
	CPU    time.Duration // utime + stime
}

// clockTick is USER_HZ, 100 on every Linux architecture we ship for.
const clockTick = 10 * time.Millisecond

func sampleProc(pid int) (procSample, error) {
	var s procSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read process status: %w", err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		switch k {
		case "VmHWM":
			s.PeakKB = kb
		case "VmRSS":
			s.RSSKB = kb
		case "RssAnon":
			s.AnonKB = kb
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read process stat: %w", err)
	}
	// Fields after "(comm)": state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, errors.New("read process stat: no command field")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, errors.New("read process stat: short line")
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	s.CPU = time.Duration(ut+st) * clockTick
	return s, nil
}

// resetPeak resets VmHWM to the current RSS (Linux clear_refs 5), so the
// next sample's peak belongs to one phase. It reports whether that worked.
func resetPeak(pid int) bool {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
}
