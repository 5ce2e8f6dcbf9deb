package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// TestBlocksAndUnblock: a phone with a wrong password blocks its own user
// at its address (not the other phones there); deskgatectl blocks and
// status show the block, deskgatectl unblock lifts it, all through the
// built binaries.
func TestBlocksAndUnblock(t *testing.T) {
	sipptest.Require(t)
	sipPort := sipptest.FreePorts(t, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(sipOffice), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, fmt.Sprintf("directory: {file: office.yaml}\nsip: {listen: [\"udp:127.0.0.1:%d\"]}\n", sipPort))
	d := startDaemon(t, dir)
	remote := "127.0.0.1:" + strconv.Itoa(sipPort)

	var alice, bob struct{ Username, Password string }
	d.ctlJSON(&alice, "credentials", "alice")
	d.ctlJSON(&bob, "credentials", "bob")
	line := func(user, pw string, port int) string {
		return fmt.Sprintf("%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]\n", user, pw, port, user, pw)
	}
	// register runs reg.xml (ends well only with a 200) or, for a request
	// expected to be refused, reg_wrongpw.xml (401 or 403).
	register := func(name, scen, user, pw string, port int) *sipptest.Process {
		p := sipptest.Start(t, sipptest.Options{Name: name, Scenario: sippScenario(t, scen), Remote: remote,
			Inf: writeCSV(t, line(user, pw, port)), Keys: map[string]string{"expires": "300"}, Timeout: 10 * time.Second})
		if code := p.Wait(); code != 0 {
			t.Fatalf("%s: sipp exit %d\n%s\ndaemon stderr:\n%s", name, code, p.Output(), d.stderr)
		}
		return p
	}

	bad := sipptest.Start(t, sipptest.Options{Name: "alice-wrong-password", Scenario: sippScenario(t, "reg_wrongpw.xml"),
		Remote: remote, Calls: 11, Rate: 200, Inf: writeCSV(t, line(alice.Username, "wrong", 5999)), Timeout: 15 * time.Second})
	if code := bad.Wait(); code != 0 {
		t.Fatalf("wrong password: sipp exit %d\n%s", code, bad.Output())
	}

	type block struct {
		Source   string `json:"source"`
		User     string `json:"user"`
		Username string `json:"username"`
		Failures int    `json:"failures"`
		Until    string `json:"until"`
	}
	var bs []block
	d.ctlJSON(&bs, "blocks")
	if len(bs) != 1 || bs[0].Source != "127.0.0.1" || bs[0].User != "alice" || bs[0].Username != alice.Username || bs[0].Failures != 10 {
		t.Fatalf("deskgatectl blocks --json = %+v, want alice from 127.0.0.1 after 10 failures", bs)
	}
	if until, err := time.Parse(time.RFC3339, bs[0].Until); err != nil || time.Until(until) < 4*time.Minute {
		t.Errorf("until %q (%v): want RFC 3339, about 5 minutes ahead", bs[0].Until, err)
	}
	if out, _, code := d.ctl("blocks"); code != 0 || !strings.Contains(out, "127.0.0.1") || !strings.Contains(out, "alice") {
		t.Errorf("deskgatectl blocks: exit %d\n%s", code, out)
	}
	if out, _, code := d.ctl("status"); code != 0 || !strings.Contains(out, "blocked after failed authentication: 127.0.0.1 alice") {
		t.Errorf("deskgatectl status: exit %d\n%s", code, out)
	}
	var st struct{ Blocks []block }
	d.ctlJSON(&st, "status")
	if len(st.Blocks) != 1 {
		t.Errorf("status --json blocks = %+v", st.Blocks)
	}

	// Bob, behind the same address, still registers; alice does not.
	register("bob", "reg.xml", bob.Username, bob.Password, 5998)
	if p := register("alice-blocked", "reg_wrongpw.xml", alice.Username, alice.Password, 5999); len(p.Received("SIP/2.0 403")) != 1 {
		t.Fatal("alice registered while blocked")
	}

	if _, errOut, code := d.ctl("unblock", "127.0.0.9"); code != 1 || strings.Count(strings.TrimSpace(errOut), "\n") != 0 ||
		!strings.Contains(errOut, "no such block") {
		t.Errorf("unblock of an address with no block: exit %d, stderr %q", code, errOut)
	}
	var un struct {
		Target string `json:"target"`
		Lifted int    `json:"lifted"`
	}
	d.ctlJSON(&un, "unblock", "alice")
	if un.Target != "alice" || un.Lifted != 1 {
		t.Errorf("unblock alice --json = %+v", un)
	}
	d.ctlJSON(&bs, "blocks")
	if len(bs) != 0 {
		t.Errorf("blocks after unblock: %+v", bs)
	}
	register("alice-unblocked", "reg.xml", alice.Username, alice.Password, 5999)
	regs := registeredUsers(d)
	if strings.Join(regs, " ") != "alice@5999 bob@5998" {
		t.Errorf("registrations %v, want alice's and bob's phones", regs)
	}
}
