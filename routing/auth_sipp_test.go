package routing_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// spoof sends n REGISTERs for ext with made-up credentials from 127.0.0.1,
// the address every sipp phone of the harness uses.
func (h *harness) spoof(name, ext string, n int) *sipptest.Process {
	h.t.Helper()
	return sipptest.Start(h.t, sipptest.Options{
		Name: name, Scenario: scenario("reg_spoofed.xml"), Remote: h.udp, Calls: n, Rate: 200,
		Inf: h.usersCSV(ext + ";x;127.0.0.1:5999;x"), Timeout: 15 * time.Second,
	})
}

// TestSippSpoofedFailuresDoNotLockOut: credentials with made-up nonces
// sent from a phone's address (what anyone on the LAN can forge over UDP)
// are re-challenged and count nothing, so the phone keeps registering and
// calling while they arrive; nothing is blocked.
func TestSippSpoofedFailuresDoNotLockOut(t *testing.T) {
	h := newHarness(t)
	bob := h.phone("bob-phone", "uas_answer.xml", "1002", "bob")
	first := h.spoof("spoof-1", "1001", 25)
	wantExit(t, first)
	h.register("1001", h.password("alice"), 5999)

	second := h.spoof("spoof-2", "1001", 25) // while alice calls
	caller := h.call("alice-caller", "uac_call.xml", "1001", "alice", "1002")
	wantExit(t, caller)
	wantExit(t, bob)
	wantExit(t, second)
	h.register("1001", h.password("alice"), 5999)

	for _, p := range []*sipptest.Process{first, second} {
		if n := len(p.Received("SIP/2.0 401")); n != 25 {
			t.Errorf("%s: %d × 401, want 25 (a fresh challenge each)", p.Name, n)
		}
		if n := len(p.Received("SIP/2.0 403")); n != 0 {
			t.Errorf("%s: %d × 403: forged credentials counted as failures", p.Name, n)
		}
	}
	if bs := h.srv.Blocks(); len(bs) != 0 {
		t.Errorf("blocks after forged credentials: %+v", bs)
	}
}

// TestSippWrongPasswordBlocksOnlyThatUser: a phone re-sending a wrong
// password fast (baresip sends 10 in 20 ms) blocks its own user at that
// address; another user behind the same address keeps registering and
// calling; unblocking the user lets the right password in again.
func TestSippWrongPasswordBlocksOnlyThatUser(t *testing.T) {
	h := newHarness(t)
	bad := sipptest.Start(t, sipptest.Options{
		Name: "alice-wrong-password", Scenario: scenario("reg_wrongpw.xml"), Remote: h.udp, Calls: 12, Rate: 200,
		Inf: h.usersCSV(userLine("1001", "wrong-password", 5999)), Timeout: 15 * time.Second,
	})
	wantExit(t, bad)
	if n := len(bad.Received("SIP/2.0 403")); n != 2 {
		t.Errorf("%d × 403 to 12 attempts, want 2 (blocked after the 10th failure)", n)
	}
	bs := h.srv.Blocks()
	if len(bs) != 1 || bs[0].Source != "127.0.0.1" || bs[0].User != "alice" || bs[0].Username != "1001" ||
		bs[0].Failures != 10 || time.Until(bs[0].Until) < 4*time.Minute {
		t.Fatalf("blocks = %+v, want alice (1001) from 127.0.0.1 after 10 failures for 5 minutes", bs)
	}
	if st := h.srv.Stats(); st.FailedAuthBlocks != 1 {
		t.Errorf("FailedAuthBlocks = %d, want 1", st.FailedAuthBlocks)
	}

	// Bob, behind the same address, registers and calls carol.
	carol := h.phone("carol-phone", "uas_answer.xml", "1003", "carol")
	wantExit(t, h.call("bob-caller", "uac_call.xml", "1002", "bob", "1003"))
	wantExit(t, carol)

	// Alice's right password is refused while the block lasts.
	right := sipptest.Start(t, sipptest.Options{
		Name: "alice-right-password", Scenario: scenario("reg_wrongpw.xml"), Remote: h.udp,
		Inf: h.usersCSV(userLine("1001", h.password("alice"), 5999)), Timeout: 10 * time.Second,
	})
	wantExit(t, right)
	if len(right.Received("SIP/2.0 403")) != 1 {
		t.Errorf("blocked user registered anyway")
	}
	if n, err := h.srv.Unblock("alice"); n != 1 || err != nil {
		t.Fatalf("Unblock(alice) = %d, %v", n, err)
	}
	h.register("1001", h.password("alice"), 5999)
	if n, err := h.srv.Unblock("alice"); n != 0 || err == nil {
		t.Errorf("second Unblock(alice) = %d, %v; want ErrNoBlock", n, err)
	}
	if n := strings.Count(h.logs.String(), "authentication blocked"); n != 1 {
		t.Errorf("block logged %d times, want once", n)
	}
}

// TestSippSourceCeiling: one address trying many usernames (user-name
// spraying) is blocked as a whole after 30 failures, whoever it then
// claims to be; unblocking the address lifts it.
func TestSippSourceCeiling(t *testing.T) {
	h := newHarness(t)
	var lines []string
	for i := range 30 {
		lines = append(lines, userLine(fmt.Sprintf("2%03d", i), "guess", 5999))
	}
	spray := sipptest.Start(t, sipptest.Options{
		Name: "spray", Scenario: scenario("reg_wrongpw.xml"), Remote: h.udp, Calls: 32, Rate: 200,
		Inf: h.usersCSV(lines...), Timeout: 15 * time.Second,
	})
	wantExit(t, spray)
	bs := h.srv.Blocks()
	if len(bs) != 1 || bs[0].Source != "127.0.0.1" || bs[0].User != "" || bs[0].Failures != 30 {
		t.Fatalf("blocks = %+v, want the whole of 127.0.0.1 after 30 failures", bs)
	}
	if n := len(spray.Received("SIP/2.0 403")); n != 2 {
		t.Errorf("%d × 403 to 32 attempts, want 2", n)
	}
	right := sipptest.Start(t, sipptest.Options{
		Name: "bob-right-password", Scenario: scenario("reg_wrongpw.xml"), Remote: h.udp,
		Inf: h.usersCSV(userLine("1002", h.password("bob"), 5999)), Timeout: 10 * time.Second,
	})
	wantExit(t, right)
	if len(right.Received("SIP/2.0 403")) != 1 {
		t.Errorf("a blocked source registered bob")
	}
	if n, err := h.srv.Unblock("127.0.0.1"); n != 1 || err != nil {
		t.Fatalf("Unblock(127.0.0.1) = %d, %v", n, err)
	}
	h.register("1002", h.password("bob"), 5999)
}
