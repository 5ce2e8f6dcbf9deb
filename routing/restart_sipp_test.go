package routing_test

import (
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// TestSippRestart: registrations come back from the store after a restart
// (the phone is called without re-registering), and a call answered before
// the restart is hung up after it (Route-based dialog routing, no per-call
// memory).
func TestSippRestart(t *testing.T) {
	h := newHarness(t)
	phone := sipptest.Start(t, sipptest.Options{Name: "alice-phone", Scenario: scenario("uas_answer.xml"),
		Calls: 2, Timeout: 25 * time.Second})
	h.register("1001", h.password("alice"), phone.Port)

	h.restart()
	if n := len(h.srv.Registrations()); n != 1 {
		t.Fatalf("after restart: %d registrations, want 1", n)
	}

	// A call that is answered, then the daemon restarts, then the BYE.
	caller := sipptest.Start(t, sipptest.Options{
		Name: "long-call", Scenario: scenario("uac_call.xml"), Remote: h.udp, Service: "1001",
		Inf:   h.usersCSV(userLine("1002", h.password("bob"), 5999)),
		Pause: 3 * time.Second, Timeout: 20 * time.Second,
	})
	waitFor(t, 10*time.Second, "the call to be answered", func() bool {
		cs := h.srv.Calls()
		return len(cs) == 1 && cs[0].State == "answered"
	})
	h.restart()
	if n := len(h.srv.Calls()); n != 0 {
		t.Errorf("calls list survived the restart: %d", n)
	}
	wantExit(t, caller) // its BYE went through the new process
	if n := len(phone.Received("BYE")); n != 1 {
		t.Errorf("phone got %d BYEs, want 1", n)
	}

	// And a new call still reaches the phone registered before both restarts.
	second := h.call("second-call", "uac_call.xml", "1002", "bob", "1001")
	wantExit(t, second)
	wantExit(t, phone)
}
