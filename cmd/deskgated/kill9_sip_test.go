package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"deskgate/routing/sipptest"
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
	sipptest.Require(t)
	sipPort := sipptest.FreePorts(t, 1)
	alicePort, bobPort := sipptest.FreePorts(t, 1), sipptest.FreePorts(t, 1)

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
	users := writeCSV(t, line(alice.Username, alice.Password, alicePort)+line(bob.Username, bob.Password, bobPort))
	callerCSV := writeCSV(t, line(alice.Username, alice.Password, alicePort))

	bobPhone := sipptest.Start(t, sipptest.Options{Name: "bob-phone", Scenario: sippScenario(t, "uas_answer.xml"),
		Port: bobPort, Timeout: 30 * time.Second})
	reg := sipptest.Start(t, sipptest.Options{Name: "register", Scenario: sippScenario(t, "reg.xml"), Remote: remote,
		Calls: 2, Inf: users, Keys: map[string]string{"expires": "300"}, Timeout: 10 * time.Second})
	if code := reg.Wait(); code != 0 {
		t.Fatalf("register: sipp exit %d\n%s", code, reg.Output())
	}
	registered := time.Now()
	want := []string{"alice@" + strconv.Itoa(alicePort), "bob@" + strconv.Itoa(bobPort)}
	if got := registeredUsers(d); !slices.Equal(got, want) {
		t.Fatalf("registrations before the kill: %v", got)
	}

	caller := sipptest.Start(t, sipptest.Options{Name: "alice-caller", Scenario: sippScenario(t, "uac_call.xml"),
		Remote: remote, Port: alicePort, Inf: callerCSV, Service: bob.Username, Pause: 5 * time.Second,
		Timeout: 30 * time.Second})
	eventually(t, 10*time.Second, "the call to be answered", func() bool {
		var calls []struct{ State string }
		d.ctlJSON(&calls, "calls")
		return len(calls) == 1 && calls[0].State == "answered"
	})

	// Registrations are written behind their answer within a second (plus
	// the commit): a kill inside that second may lose them, by design.
	time.Sleep(time.Until(registered.Add(1500 * time.Millisecond)))
	d.kill() // SIGKILL: no shutdown, no drain, whatever bbolt had in flight
	if d.cmd.ProcessState == nil || d.cmd.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("deskgated not killed by SIGKILL: %v", d.cmd.ProcessState)
	}
	d = startDaemon(t, dir)
	if got := registeredUsers(d); !slices.Equal(got, want) {
		t.Errorf("registrations right after the restart: %v, want alice's and bob's phones", got)
	}

	// The caller ends only after its BYE got 200, which only bob sends; bob
	// ends only after that BYE (uas_answer.xml waits for it).
	if code := caller.Wait(); code != 0 {
		t.Fatalf("caller: sipp exit %d\n%s\ndaemon stderr:\n%s", code, caller.Output(), d.stderr)
	}
	if code := bobPhone.Wait(); code != 0 {
		t.Fatalf("bob's phone: sipp exit %d\n%s", code, bobPhone.Output())
	}
	byes := bobPhone.Received("BYE")
	if len(byes) == 0 {
		t.Fatal("bob's phone got no BYE")
	}
	if via := byes[0].Header("Via"); len(via) == 0 || !strings.Contains(via[0], remote) {
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

func sippScenario(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "routing", "testdata", "sipp", name))
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
