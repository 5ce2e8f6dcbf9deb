package routing_test

import (
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// phone starts a sipp UAS (one call) and registers it for ext.
func (h *harness) phone(name, scen, ext, user string) *sipptest.Process {
	h.t.Helper()
	p := sipptest.Start(h.t, sipptest.Options{Name: name, Scenario: scenario(scen), Timeout: 20 * time.Second})
	h.register(ext, h.password(user), p.Port)
	return p
}

// call starts a caller sipp that authenticates as ext and dials service.
func (h *harness) call(name, scen, ext, user, service string) *sipptest.Process {
	h.t.Helper()
	return sipptest.Start(h.t, sipptest.Options{
		Name: name, Scenario: scenario(scen), Remote: h.udp, Service: service,
		Inf:   h.usersCSV(userLine(ext, h.password(user), 5999)),
		Pause: 300 * time.Millisecond, Timeout: 20 * time.Second,
	})
}

// wantExit waits for a sipp and fails the test unless it exited 0.
func wantExit(t *testing.T, p *sipptest.Process) {
	t.Helper()
	if code := p.Wait(); code != 0 {
		t.Fatalf("%s: sipp exit %d (watchdog: %v)\n%s", p.Name, code, p.WatchdogFired(), p.Output())
	}
}

// finalStatus is the final response line a caller received.
func finalStatus(p *sipptest.Process) string {
	var last string
	for _, m := range p.Received("SIP/2.0 ") {
		if l := m.FirstLine(); !strings.HasPrefix(l, "SIP/2.0 1") && !strings.HasPrefix(l, "SIP/2.0 407") {
			last = l
		}
	}
	return last
}

func TestSippCalls(t *testing.T) {
	tests := []struct {
		name       string
		phoneScen  string
		callerScen string
		wantFinal  string // caller's final response ("" = 200 and BYE by uac_call)
		phoneGets  string // a request the phone must receive
		noReason   bool   // that request must not say "Call completed elsewhere"
	}{
		{name: "answered", phoneScen: "uas_answer.xml", callerScen: "uac_call.xml", phoneGets: "BYE"},
		{name: "busy", phoneScen: "uas_busy.xml", callerScen: "uac_reject.xml", wantFinal: "SIP/2.0 486 Busy Here"},
		{name: "no answer", phoneScen: "uas_noanswer.xml", callerScen: "uac_reject.xml",
			wantFinal: "SIP/2.0 480", phoneGets: "CANCEL", noReason: true},
		{name: "caller cancels", phoneScen: "uas_noanswer.xml", callerScen: "uac_cancel.xml",
			phoneGets: "CANCEL", noReason: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			phone := h.phone("alice-phone", tc.phoneScen, "1001", "alice")
			caller := h.call("bob-caller", tc.callerScen, "1002", "bob", "1001")
			wantExit(t, caller)
			wantExit(t, phone)
			if tc.wantFinal != "" {
				if got := finalStatus(caller); !strings.HasPrefix(got, tc.wantFinal) {
					t.Errorf("caller's final response %q, want %q", got, tc.wantFinal)
				}
			}
			if tc.phoneGets != "" {
				got := phone.Received(tc.phoneGets)
				if len(got) == 0 {
					t.Fatalf("phone received no %s", tc.phoneGets)
				}
				if tc.noReason && strings.Contains(strings.Join(got[0].Header("Reason"), " "), "completed elsewhere") {
					t.Errorf("%s says the call was completed elsewhere: %v", tc.phoneGets, got[0].Header("Reason"))
				}
			}
			waitFor(t, 5*time.Second, "calls list to empty", func() bool { return len(h.srv.Calls()) == 0 })
		})
	}
}

// TestSippTwoPhones: one user, two phones; both ring, one answers, the
// other is CANCELled with the "completed elsewhere" Reason.
func TestSippTwoPhones(t *testing.T) {
	h := newHarness(t)
	desk := h.phone("desk", "uas_answer.xml", "1001", "alice")
	mobile := h.phone("mobile", "uas_noanswer.xml", "1001", "alice")
	if n := len(h.srv.Registrations()); n != 2 {
		t.Fatalf("%d registrations, want 2", n)
	}
	caller := h.call("bob-caller", "uac_call.xml", "1002", "bob", "1001")
	wantExit(t, caller)
	wantExit(t, desk)
	wantExit(t, mobile)
	if len(mobile.Received("INVITE")) != 1 {
		t.Fatal("second phone did not ring")
	}
	cancels := mobile.Received("CANCEL")
	if len(cancels) != 1 {
		t.Fatalf("second phone got %d CANCELs, want 1", len(cancels))
	}
	reason := strings.Join(cancels[0].Header("Reason"), " ")
	if !strings.Contains(reason, "cause=200") || !strings.Contains(reason, `text="Call completed elsewhere"`) {
		t.Errorf("CANCEL Reason = %q, want SIP;cause=200;text=\"Call completed elsewhere\"", reason)
	}
}

// TestSippTCPPhone: a phone registered over TCP gets its call down its own
// connection; the caller is on UDP, so the dialog crosses transports.
func TestSippTCPPhone(t *testing.T) {
	h := newHarness(t)
	phone := sipptest.Start(t, sipptest.Options{
		Name: "tcp-phone", Scenario: scenario("reg_hold.xml"), OOC: scenario("uas_answer.xml"),
		Remote: h.tcp, Transport: "t1", Pause: 15 * time.Second, Timeout: 20 * time.Second,
		Inf: h.usersCSV(userLine("1001", h.password("alice"), 5999)),
	})
	waitFor(t, 5*time.Second, "TCP registration", func() bool { return len(h.srv.Registrations()) == 1 })
	if r := h.srv.Registrations()[0]; r.Transport != "TCP" {
		t.Fatalf("registration transport %q, want TCP", r.Transport)
	}
	caller := h.call("udp-caller", "uac_call.xml", "1002", "bob", "1001")
	wantExit(t, caller)
	if len(phone.Received("BYE")) != 1 {
		t.Errorf("TCP phone did not get the BYE\n%s", phone.Output())
	}
}

// TestSippCallerID: a phone may not present another user's identity.
func TestSippCallerID(t *testing.T) {
	h := newHarness(t)
	phone := sipptest.Start(t, sipptest.Options{Name: "alice-phone", Scenario: scenario("uas_answer.xml"), Timeout: 5 * time.Second})
	h.register("1001", h.password("alice"), phone.Port)
	// From says 1001 (alice) but the credentials are bob's.
	line := "1001;x;127.0.0.1:5999;[authentication username=1002 password=" + h.password("bob") + "]"
	caller := sipptest.Start(t, sipptest.Options{
		Name: "spoofer", Scenario: scenario("uac_reject.xml"), Remote: h.udp, Service: "1001",
		Inf: h.usersCSV(line), Timeout: 10 * time.Second,
	})
	wantExit(t, caller)
	if got := finalStatus(caller); !strings.HasPrefix(got, "SIP/2.0 403") {
		t.Errorf("final %q, want 403", got)
	}
	phone.Stop()
	if n := len(phone.Received("INVITE")); n != 0 {
		t.Errorf("spoofed call reached the phone")
	}
}
