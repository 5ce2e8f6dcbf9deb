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

// softphoneOffice: a three-operator department, an executive with an
// active assistant, a user whose calls go to voicemail (no phone), and a
// user on TCP.
const softphoneOffice = `version: "softphones"
plan: pro
timezone: UTC
users:
  - {id: alice, name: Alice Able, extension: "1001", license: talk}
  - {id: bob, name: Bob Baker, extension: "1002", license: talk}
  - {id: carol, name: Carol Cole, extension: "1003", license: talk}
  - {id: dave, name: Dave Dunn, extension: "1004", license: talk}
  - {id: eve, name: Eve Exec, extension: "1010", license: talk}
  - {id: ann, name: Ann Alpha, extension: "1011", license: talk}
  - {id: tina, name: Tina Tcp, extension: "1020", license: talk}
  - {id: vic, name: Vic Voicemail, extension: "1030", license: talk, no_answer: "sip:vm-1030@%s"}
departments:
  - {id: support, name: Support, extension: "2000", operators: [bob, carol, dave]}
pairings:
  - {executive: eve, assistant: ann, state: active}
`

// bound is how long any one SIP step may take on loopback.
const bound = 10 * time.Second

// TestBaresipPhones drives baresip 1.0 as real phones against the built
// daemon with its default configuration (MD5 challenges only): every
// phone registers, then calls in both directions with the BYE from each
// side and hold / resume, a cancelled call, a department call to three
// operators, assistant forking, the DND feature codes, calls to and from
// a phone on TCP, and a no_answer forward without a trunk.
func TestBaresipPhones(t *testing.T) {
	requireBaresip(t)
	sipPort := sipptest.FreePorts(t, 1)
	vmPort := sipptest.FreePorts(t, 1)
	dir := t.TempDir()
	office := fmt.Sprintf(softphoneOffice, "127.0.0.1:"+strconv.Itoa(vmPort))
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(office), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, fmt.Sprintf("directory: {file: office.yaml}\nsip: {listen: [\"udp:127.0.0.1:%d\", \"tcp:127.0.0.1:%d\"]}\n",
		sipPort, sipPort))
	d := startDaemon(t, dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("deskgated stderr:\n%s", d.stderr)
		}
	})
	proxy := "127.0.0.1:" + strconv.Itoa(sipPort)

	phones := map[string]*baresip{}
	for _, user := range []string{"alice", "bob", "carol", "dave", "eve", "ann", "tina"} {
		var c struct{ Username, Password string }
		d.ctlJSON(&c, "credentials", user)
		tp := "udp"
		if user == "tina" {
			tp = "tcp"
		}
		phones[user] = startBaresip(t, softphone{name: user, ext: c.Username, password: c.Password, proxy: proxy, transport: tp})
	}
	alice, bob, carol, dave, eve, ann, tina := phones["alice"], phones["bob"], phones["carol"], phones["dave"],
		phones["eve"], phones["ann"], phones["tina"]

	t.Run("register with MD5", func(t *testing.T) {
		for user := range phones {
			want := "UDP"
			if user == "tina" {
				want = "TCP"
			}
			waitRegistered(t, d, user, want)
		}
	})
	if t.Failed() {
		return
	}

	t.Run("call, hold, resume, caller hangs up", func(t *testing.T) {
		a, b := alice.mark(), bob.mark()
		alice.dial("1002")
		bob.waitEvent(b, "CALL_INCOMING", bound)
		alice.waitEvent(a, "CALL_RINGING", bound)
		bob.command("accept", "")
		alice.waitEvent(a, "CALL_ESTABLISHED", bound)
		bob.waitEvent(b, "CALL_ESTABLISHED", bound)
		for _, cmd := range []string{"hold", "resume"} {
			a, b := alice.mark(), bob.mark()
			alice.command(cmd, "")
			// The re-INVITE reached bob through the proxy and his answer came back.
			if ev := bob.waitEvent(b, "CALL_REMOTE_SDP", bound); ev.Param != "offer" {
				t.Errorf("%s: bob got SDP %q, want the re-INVITE's offer", cmd, ev.Param)
			}
			if ev := alice.waitEvent(a, "CALL_REMOTE_SDP", bound); ev.Param != "answer" {
				t.Errorf("%s: alice got SDP %q, want bob's answer", cmd, ev.Param)
			}
			alice.noEvent(a, "CALL_CLOSED")
		}
		a, b = alice.mark(), bob.mark()
		alice.command("hangup", "")
		bob.waitEvent(b, "CALL_CLOSED", bound)
		alice.waitEvent(a, "CALL_CLOSED", bound)
	})

	t.Run("call back, callee hangs up", func(t *testing.T) {
		a, b := alice.mark(), bob.mark()
		bob.dial("1001")
		alice.waitEvent(a, "CALL_INCOMING", bound)
		alice.command("accept", "")
		bob.waitEvent(b, "CALL_ESTABLISHED", bound)
		alice.waitEvent(a, "CALL_ESTABLISHED", bound)
		a, b = alice.mark(), bob.mark()
		alice.command("hangup", "")
		bob.waitEvent(b, "CALL_CLOSED", bound)
		alice.waitEvent(a, "CALL_CLOSED", bound)
	})

	t.Run("caller cancels", func(t *testing.T) {
		a, b := alice.mark(), bob.mark()
		alice.dial("1002")
		bob.waitEvent(b, "CALL_INCOMING", bound)
		alice.waitEvent(a, "CALL_RINGING", bound)
		alice.command("hangup", "") // CANCEL
		bob.waitEvent(b, "CALL_CLOSED", bound)
		alice.waitEvent(a, "CALL_CLOSED", bound)
		bob.noEvent(b, "CALL_ESTABLISHED")
	})

	t.Run("department rings three operators", func(t *testing.T) {
		a := alice.mark()
		ops := map[*baresip]int{bob: bob.mark(), carol: carol.mark(), dave: dave.mark()}
		alice.dial("2000")
		for op, m := range ops {
			op.waitEvent(m, "CALL_INCOMING", bound)
		}
		carol.command("accept", "")
		alice.waitEvent(a, "CALL_ESTABLISHED", bound)
		carol.waitEvent(ops[carol], "CALL_ESTABLISHED", bound)
		for _, op := range []*baresip{bob, dave} {
			ev := op.waitEvent(ops[op], "CALL_CLOSED", bound) // CANCELled: completed elsewhere
			t.Logf("%s: %s", op.name, ev.Param)
			op.noEvent(ops[op], "CALL_ESTABLISHED")
		}
		c := carol.mark()
		alice.command("hangup", "")
		carol.waitEvent(c, "CALL_CLOSED", bound)
	})

	t.Run("executive's call alerts the assistant", func(t *testing.T) {
		a, e, s := alice.mark(), eve.mark(), ann.mark()
		alice.dial("1010")
		eve.waitEvent(e, "CALL_INCOMING", bound)
		ann.waitEvent(s, "CALL_INCOMING", bound)
		ann.command("accept", "")
		alice.waitEvent(a, "CALL_ESTABLISHED", bound)
		ann.waitEvent(s, "CALL_ESTABLISHED", bound)
		eve.waitEvent(e, "CALL_CLOSED", bound)
		eve.noEvent(e, "CALL_ESTABLISHED")
		s = ann.mark()
		ann.command("hangup", "")
		alice.waitEvent(a, "CALL_CLOSED", bound)
		ann.waitEvent(s, "CALL_CLOSED", bound)
	})

	t.Run("DND feature codes", func(t *testing.T) {
		b := bob.mark()
		bob.dial("*78")
		if ev := bob.waitEvent(b, "CALL_CLOSED", bound); !strings.Contains(ev.Param, "DND on") {
			t.Errorf("*78 ended with %q, want DND on", ev.Param)
		}
		a, b := alice.mark(), bob.mark()
		alice.dial("1002")
		ev := alice.waitEvent(a, "CALL_CLOSED", bound)
		t.Logf("call to bob in DND: %s", ev.Param)
		bob.noEvent(b, "CALL_INCOMING")
		b = bob.mark()
		bob.dial("*79")
		if ev := bob.waitEvent(b, "CALL_CLOSED", bound); !strings.Contains(ev.Param, "DND off") {
			t.Errorf("*79 ended with %q, want DND off", ev.Param)
		}
		a, b = alice.mark(), bob.mark()
		alice.dial("1002")
		bob.waitEvent(b, "CALL_INCOMING", bound)
		alice.command("hangup", "")
		bob.waitEvent(b, "CALL_CLOSED", bound)
		alice.waitEvent(a, "CALL_CLOSED", bound)
	})

	t.Run("TCP phone", func(t *testing.T) {
		a, c := alice.mark(), tina.mark()
		alice.dial("1020") // UDP caller, TCP callee; the TCP phone hangs up
		tina.waitEvent(c, "CALL_INCOMING", bound)
		tina.command("accept", "")
		alice.waitEvent(a, "CALL_ESTABLISHED", bound)
		tina.waitEvent(c, "CALL_ESTABLISHED", bound)
		a, c = alice.mark(), tina.mark()
		tina.command("hangup", "")
		alice.waitEvent(a, "CALL_CLOSED", bound)
		tina.waitEvent(c, "CALL_CLOSED", bound)

		a, c = alice.mark(), tina.mark()
		tina.dial("1001") // TCP caller; the UDP phone hangs up
		alice.waitEvent(a, "CALL_INCOMING", bound)
		alice.command("accept", "")
		tina.waitEvent(c, "CALL_ESTABLISHED", bound)
		a, c = alice.mark(), tina.mark()
		alice.command("hangup", "")
		tina.waitEvent(c, "CALL_CLOSED", bound)
		alice.waitEvent(a, "CALL_CLOSED", bound)
	})

	t.Run("no_answer forwarded without a trunk", func(t *testing.T) {
		sipptest.Require(t)
		vm := sipptest.Start(t, sipptest.Options{Name: "voicemail", Scenario: sippScenario(t, "uas_answer.xml"),
			Port: vmPort, Timeout: 30 * time.Second})
		defer vm.Stop()
		a := alice.mark()
		alice.dial("1030") // vic has no phone: no_answer at once, to the voicemail host
		alice.waitEvent(a, "CALL_ESTABLISHED", bound)
		a = alice.mark()
		alice.command("hangup", "")
		alice.waitEvent(a, "CALL_CLOSED", bound)
		if n := len(vm.Received("INVITE")); n != 1 {
			t.Errorf("voicemail got %d INVITEs, want 1", n)
		}
	})
}

// waitRegistered waits until user has a binding over transport from a
// baresip phone.
func waitRegistered(t *testing.T, d *daemonProc, user, transport string) {
	t.Helper()
	eventually(t, bound, user+" registered over "+transport, func() bool {
		var regs []struct {
			User      string `json:"user"`
			Transport string `json:"transport"`
			UserAgent string `json:"user_agent"`
		}
		d.ctlJSON(&regs, "registrations")
		for _, r := range regs {
			if r.User == user && strings.EqualFold(r.Transport, transport) && strings.Contains(r.UserAgent, "baresip") {
				return true
			}
		}
		return false
	})
}

// TestLinphoneCalls: linphone's console client (linphonec 5.1) as bob's
// phone and baresip as alice's, against the built daemon: linphone
// registers (MD5), answers a call and hangs up, holds and resumes, and
// calls out through the daemon as its outbound proxy.
func TestLinphoneCalls(t *testing.T) {
	requireBaresip(t)
	requireLinphone(t)
	sipPort := sipptest.FreePorts(t, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(sipOffice), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, fmt.Sprintf("directory: {file: office.yaml}\nsip: {listen: [\"udp:127.0.0.1:%d\"]}\n", sipPort))
	d := startDaemon(t, dir)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("deskgated stderr:\n%s", d.stderr)
		}
	})
	proxy := "127.0.0.1:" + strconv.Itoa(sipPort)
	var ca, cb struct{ Username, Password string }
	d.ctlJSON(&ca, "credentials", "alice")
	d.ctlJSON(&cb, "credentials", "bob")
	alice := startBaresip(t, softphone{name: "alice", ext: ca.Username, password: ca.Password, proxy: proxy})
	bob := startLinphone(t, softphone{name: "bob", ext: cb.Username, password: cb.Password, proxy: proxy})
	waitRegistered(t, d, "alice", "UDP")
	eventually(t, bound, "linphone registered", func() bool {
		var regs []struct {
			User      string `json:"user"`
			UserAgent string `json:"user_agent"`
		}
		d.ctlJSON(&regs, "registrations")
		for _, r := range regs {
			if r.User == "bob" && strings.Contains(r.UserAgent, "Linphone") {
				return true
			}
		}
		return false
	})

	// alice calls bob; bob answers, holds, resumes and hangs up.
	a, b := alice.mark(), bob.mark()
	alice.dial("1002")
	bob.waitLine(b, "Receiving new incoming call from", bound)
	bob.send("answer")
	bob.waitLine(b, "connected", bound)
	alice.waitEvent(a, "CALL_ESTABLISHED", bound)
	a, b = alice.mark(), bob.mark()
	bob.send("pause")
	bob.waitLine(b, "is now paused", bound)
	alice.waitEvent(a, "CALL_REMOTE_SDP", bound) // the hold re-INVITE came through
	a, b = alice.mark(), bob.mark()
	bob.send("resume")
	bob.waitLine(b, "Media streams established", bound) // its re-INVITE was answered
	alice.waitEvent(a, "CALL_REMOTE_SDP", bound)
	a, b = alice.mark(), bob.mark()
	bob.send("terminate")
	alice.waitEvent(a, "CALL_CLOSED", bound)
	bob.waitLine(b, "ended", bound)

	// bob calls alice through the daemon; alice answers and hangs up.
	a, b = alice.mark(), bob.mark()
	bob.send("call sip:1001@hq.example.test")
	alice.waitEvent(a, "CALL_INCOMING", bound)
	alice.command("accept", "")
	alice.waitEvent(a, "CALL_ESTABLISHED", bound)
	bob.waitLine(b, "connected", bound)
	a, b = alice.mark(), bob.mark()
	alice.command("hangup", "")
	bob.waitLine(b, "ended", bound)
	alice.waitEvent(a, "CALL_CLOSED", bound)
}
