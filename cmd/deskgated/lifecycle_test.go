package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"deskgate/daemon/directory"
)

func TestSystemdNotifications(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), demoOffice(t, "n1"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, "directory: {file: office.yaml}\n")
	d := startDaemon(t, dir, "WATCHDOG_USEC=400000")
	ready, _ := d.notify.waitFor("READY=1", time.Second)
	if !strings.Contains(ready, "STATUS=") || !strings.Contains(ready, "directory n1") {
		t.Errorf("READY datagram %q lacks a STATUS= summary naming the directory", ready)
	}
	if _, err := d.notify.waitFor("WATCHDOG=1", 3*time.Second); err != nil {
		t.Errorf("watchdog: %v", err)
	}
	if fi, err := os.Stat(d.socket); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("control socket mode: %v %v, want 0660", fi.Mode(), err)
	}
	n := len(d.notify.messages())
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	msg, err := d.notify.waitAfter(n, "RELOADING=1", 5*time.Second)
	if err != nil {
		t.Fatalf("SIGHUP: %v", err)
	}
	if !strings.Contains(msg, "MONOTONIC_USEC=") {
		t.Errorf("RELOADING=1 without MONOTONIC_USEC: %q", msg)
	}
	if _, err := d.notify.waitAfter(n+1, "READY=1", 5*time.Second); err != nil {
		t.Errorf("READY=1 after reload: %v", err)
	}
	err, took := d.stop()
	if err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, d.stderr)
	}
	if took > 5*time.Second {
		t.Errorf("stop took %v, docs/spec.md §8 wants 5 s", took)
	}
	if _, err := d.notify.waitFor("STOPPING=1", time.Second); err != nil {
		t.Errorf("STOPPING=1: %v", err)
	}
	if _, err := os.Stat(d.socket); !os.IsNotExist(err) {
		t.Errorf("control socket left behind: %v", err)
	}
}

func TestControlCommands(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), demoOffice(t, "c1"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, "directory: {file: office.yaml}\n")
	d := startDaemon(t, dir)
	user, dept := firstOperator(t)

	var p struct {
		User string   `json:"user"`
		DND  bool     `json:"dnd"`
		Away []string `json:"away"`
	}
	d.ctlJSON(&p, "dnd", user, "on")
	if !p.DND || p.User != user {
		t.Errorf("dnd on: %+v", p)
	}
	d.ctlJSON(&p, "away", user, "on", "--department", dept)
	if len(p.Away) != 1 || p.Away[0] != dept {
		t.Errorf("away on %s: %+v", dept, p)
	}
	d.ctlJSON(&p, "away", user, "on")
	if len(p.Away) != 1 || p.Away[0] != "*" {
		t.Errorf("away on all: %+v", p)
	}
	if _, errs, code := d.ctl("away", user, "on", "--department", "no-such-dept"); code == 0 || !strings.Contains(errs, "no-such-dept") {
		t.Errorf("away for an unknown department: exit %d, %q", code, errs)
	}
	if _, errs, code := d.ctl("dnd", "nobody", "on"); code == 0 || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("dnd for an unknown user: exit %d, %q (want one line, non-zero)", code, errs)
	}

	var c1, c2, c3 struct{ User, Username, Password, Realm string }
	d.ctlJSON(&c1, "credentials", user)
	d.ctlJSON(&c2, "credentials", user)
	if c1.Password == "" || c1 != c2 || c1.Realm != "hq.example.test" || c1.Username == "" {
		t.Errorf("credentials not stable: %+v %+v", c1, c2)
	}
	d.ctlJSON(&c3, "credentials", user, "--rotate")
	if c3.Password == c1.Password || c3.Password == "" {
		t.Errorf("rotate kept the password")
	}

	// State survives a restart (and a kill -9).
	d.kill()
	d = startDaemon(t, dir)
	d.ctlJSON(&p, "dnd", user)
	if !p.DND || len(p.Away) != 1 || p.Away[0] != "*" {
		t.Errorf("presence after kill -9 and restart: %+v", p)
	}
	d.ctlJSON(&c2, "credentials", user)
	if c2 != c3 {
		t.Errorf("credentials after restart: %+v, want %+v", c2, c3)
	}

	var hist []map[string]any
	d.ctlJSON(&hist, "history", user)
	var regs []map[string]any
	d.ctlJSON(&regs, "registrations")
	var calls []map[string]any
	d.ctlJSON(&calls, "calls")

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, invalidOffice(t, "x"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, code := d.ctl("check", bad)
	if code != 1 || !strings.Contains(out, "1001") {
		t.Errorf("check bad file: exit %d, %q", code, out)
	}
	if out, _, code := d.ctl("check", filepath.Join(dir, "office.yaml")); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("check good file: exit %d, %q", code, out)
	}
	if out, errs, code := d.ctl("reload"); code != 0 {
		t.Errorf("reload: exit %d %q %q", code, out, errs)
	}
	// A reload with a broken deskgate.yaml is refused with a reason, and the daemon runs on.
	writeConfig(t, dir, "directory: {file: office.yaml}\nbogus_key: 1\n")
	if _, errs, code := d.ctl("reload"); code == 0 || !strings.Contains(errs, "bogus_key") {
		t.Errorf("reload with a bad config: exit %d, %q", code, errs)
	}
	if s := d.status(); !s.Ready {
		t.Errorf("not ready after a refused reload")
	}
}

func TestCtlWithoutDaemon(t *testing.T) {
	out, errs, code := runCtl(t, filepath.Join(t.TempDir(), "none.sock"), "status")
	if code == 0 || out != "" || !strings.Contains(errs, "not running") || strings.Count(strings.TrimSpace(errs), "\n") != 0 {
		t.Errorf("status without daemon: exit %d, stdout %q, stderr %q", code, out, errs)
	}
}

func TestSecondDaemonRefused(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), demoOffice(t, "l1"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, "directory: {file: office.yaml}\n")
	startDaemon(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, filepath.Join(binDir, "deskgated"), "-config", filepath.Join(dir, "deskgate.yaml")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another deskgated") {
		t.Errorf("second daemon on the same state: err %v, output %q", err, out)
	}
}

func TestCheckFlag(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "directory: {file: ../../testdata/demo/office.yaml}\n")
	check := func(args ...string) (string, int) {
		cmd := exec.Command(filepath.Join(binDir, "deskgated"), append([]string{"-check", "-config", cfg}, args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	demo, _ := filepath.Abs("../../testdata/demo/office.yaml")
	if out, code := check("-directory", demo); code != 0 {
		t.Errorf("demo office: exit %d\n%s", code, out)
	}
	files, _ := filepath.Glob("../../testdata/invalid/*.yaml")
	if len(files) < 10 {
		t.Fatalf("only %d invalid documents in testdata/invalid", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			raw, _ := os.ReadFile(f)
			want := expectation(string(raw))
			abs, _ := filepath.Abs(f)
			out, code := check("-directory", abs)
			if code != 1 || !strings.Contains(out, want) {
				t.Errorf("exit %d, output %q; want exit 1 and %q", code, out, want)
			}
		})
	}
	badCfg := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badCfg, []byte("domain: x\nsip: {lisen: []}\n"), 0o644)
	out, err := exec.Command(filepath.Join(binDir, "deskgated"), "-check", "-config", badCfg).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "lisen") {
		t.Errorf("bad config: %v %q", err, out)
	}
}

// expectation reads the `# expect: ...` first line of an invalid document.
func expectation(doc string) string {
	first, _, _ := strings.Cut(doc, "\n")
	_, want, ok := strings.Cut(first, "# expect:")
	if !ok {
		return "\x00missing # expect: line"
	}
	return strings.TrimSpace(want)
}

// firstOperator returns an operator of the demo office's first department.
func firstOperator(t *testing.T) (user, dept string) {
	t.Helper()
	snap, err := directory.Parse(demoOffice(t, "x"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range snap.Departments() {
		if len(d.Operators) > 0 {
			return d.Operators[0], d.ID
		}
	}
	t.Fatal("demo office has no operator")
	return "", ""
}

// Discovery only helps phones find the box: when it cannot start, the
// daemon runs on and says why.
func TestDiscoveryFailureIsNotFatal(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), demoOffice(t, "d1"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, "directory: {file: office.yaml}\ndiscovery: {mdns: true, pnp: false, interfaces: [nosuch0]}\n")
	d := startDaemon(t, dir)
	var s struct {
		Ready    bool
		Warnings []string
	}
	d.ctlJSON(&s, "status")
	if !s.Ready || len(s.Warnings) != 1 || !strings.Contains(s.Warnings[0], "nosuch0") {
		t.Errorf("status: %+v", s)
	}
}
