package routing_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"deskgate/routing"
	"deskgate/routing/sipptest"
)

// trunk starts sipp as the upstream trunk on 127.0.0.2, taking calls.
func trunkUAS(t *testing.T, scen string, timeout time.Duration) *sipptest.Process {
	t.Helper()
	return sipptest.Start(t, sipptest.Options{Name: "trunk", Scenario: scenario(scen), LocalIP: trunkIP, Timeout: timeout})
}

// TestSippTrunkInbound: the trusted trunk calls a DID without digest auth
// and the user's phone answers; the dialog's BYE follows Record-Route.
func TestSippTrunkInbound(t *testing.T) {
	h := newHarness(t, withTrunk(sipptest.FreePorts(t, 1)))
	phone := h.phone("alice-phone", "uas_answer.xml", "1001", "alice")
	trunk := sipptest.Start(t, sipptest.Options{
		Name: "trunk-caller", Scenario: scenario("uac_call.xml"), Remote: h.udp, LocalIP: trunkIP,
		Service: "+15551230001", Inf: h.usersCSV("+15559990000;x;127.0.0.2:5999;[authentication username=x password=y]"),
		Pause: 300 * time.Millisecond, Timeout: 15 * time.Second,
	})
	wantExit(t, trunk)
	wantExit(t, phone)
	if n := len(trunk.Received("SIP/2.0 407")); n != 0 {
		t.Errorf("trusted trunk was challenged %d times", n)
	}
	inv := phone.Received("INVITE")[0]
	if got := inv.FirstLine(); !strings.HasPrefix(got, "INVITE sip:1001@") {
		t.Errorf("phone got %q, want its contact as Request-URI", got)
	}
	if from := strings.Join(inv.Header("From"), ""); !strings.Contains(from, "+15559990000") {
		t.Errorf("From %q lost the outside caller", from)
	}
}

// TestSippTrunkOutbound: a phone calls an outside number; the trunk gets
// it with the user's E.164 number asserted and the phone's own identity
// headers gone.
func TestSippTrunkOutbound(t *testing.T) {
	trunkPort := sipptest.FreePorts(t, 1)
	h := newHarness(t, withTrunk(trunkPort))
	trunk := sipptest.Start(t, sipptest.Options{Name: "trunk", Scenario: scenario("uas_answer.xml"),
		LocalIP: trunkIP, Port: trunkPort, Timeout: 15 * time.Second})
	caller := sipptest.Start(t, sipptest.Options{
		Name: "alice-caller", Scenario: scenario("uac_forged.xml"), Remote: h.udp, Service: "15559876543",
		Inf:   h.usersCSV(userLine("1001", h.password("alice"), 5999, "+15551230001")),
		Pause: 300 * time.Millisecond, Timeout: 15 * time.Second,
	})
	wantExit(t, caller)
	wantExit(t, trunk)
	inv := trunk.Received("INVITE")
	if len(inv) != 1 {
		t.Fatalf("trunk got %d INVITEs", len(inv))
	}
	if got := inv[0].FirstLine(); !strings.HasPrefix(got, fmt.Sprintf("INVITE sip:15559876543@%s:%d", trunkIP, trunkPort)) {
		t.Errorf("trunk Request-URI: %q", got)
	}
	pai := inv[0].Header("P-Asserted-Identity")
	if len(pai) != 1 || !strings.Contains(pai[0], "<sip:+15551230001@test.example>") {
		t.Errorf("P-Asserted-Identity = %q, want alice's number only", pai)
	}
	for _, hdr := range []string{"P-Preferred-Identity", "Proxy-Authorization"} {
		if v := inv[0].Header(hdr); len(v) != 0 {
			t.Errorf("%s reached the trunk: %q", hdr, v)
		}
	}
}

// TestSippTollFraud: nothing unauthenticated reaches the trunk: no
// credentials, a wrong password, or the trunk itself dialling out again.
func TestSippTollFraud(t *testing.T) {
	trunkPort := sipptest.FreePorts(t, 1)
	h := newHarness(t, withTrunk(trunkPort))
	trunk := sipptest.Start(t, sipptest.Options{Name: "trunk", Scenario: scenario("uas_answer.xml"),
		LocalIP: trunkIP, Port: trunkPort, Timeout: 15 * time.Second})
	attempts := []struct {
		name, scen, local, line, want string
	}{
		{"no credentials", "uac_unauth.xml", "", userLine("1001", "x", 5999), "SIP/2.0 407"},
		{"wrong password", "uac_reject.xml", "", userLine("1001", "wrong", 5999), "SIP/2.0 407"},
		{"unknown user", "uac_reject.xml", "", userLine("7777", "x", 5999), "SIP/2.0 407"},
		{"trunk to trunk", "uac_reject.xml", trunkIP, userLine("+15550001111", "x", 5999), "SIP/2.0 404"},
	}
	for _, a := range attempts {
		p := sipptest.Start(t, sipptest.Options{Name: a.name, Scenario: scenario(a.scen), Remote: h.udp,
			LocalIP: a.local, Service: "15559876543", Inf: h.usersCSV(a.line), Timeout: 10 * time.Second})
		wantExit(t, p)
		got := p.Received("SIP/2.0")
		if len(got) == 0 || !strings.HasPrefix(got[len(got)-1].FirstLine(), a.want) {
			t.Errorf("%s: last response %v, want %s", a.name, got, a.want)
		}
	}
	time.Sleep(300 * time.Millisecond) // anything forwarded would have arrived by now
	trunk.Stop()
	if msgs := trunk.Messages(); len(msgs) != 0 {
		t.Errorf("the trunk received %d messages, first: %s", len(msgs), msgs[0].FirstLine())
	}
}

// TestSippTrunkRegistration: with trunk.username set, the daemon registers
// to the trunk and answers its digest challenge.
func TestSippTrunkRegistration(t *testing.T) {
	trunkPort := sipptest.FreePorts(t, 1)
	registrar := sipptest.Start(t, sipptest.Options{
		Name: "trunk-registrar", Scenario: scenario("trunk_registrar.xml"), LocalIP: trunkIP, Port: trunkPort,
		Keys: map[string]string{"user": "hq-gw", "password": "s3cret"}, Timeout: 15 * time.Second,
	})
	h := newHarness(t, withTrunk(trunkPort), func(o *routing.Options) {
		o.Trunk.Username, o.Trunk.Password = "hq-gw", "s3cret"
	})
	wantExit(t, registrar)
	waitFor(t, 5*time.Second, "trunk registration in Stats", func() bool { return h.srv.Stats().TrunkRegistered })
	regs := registrar.Received("REGISTER")
	if len(regs) != 2 {
		t.Fatalf("trunk got %d REGISTERs, want 2", len(regs))
	}
	contact := strings.Join(regs[1].Header("Contact"), "")
	if !strings.Contains(contact, "sip:hq-gw@127.0.0.1:") {
		t.Errorf("Contact %q does not name our listener", contact)
	}
	if cs := strings.Join(regs[1].Header("CSeq"), ""); cs != "2 REGISTER" {
		t.Errorf("CSeq of the authenticated REGISTER = %q, want 2 REGISTER", cs)
	}
}
