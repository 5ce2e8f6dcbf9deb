package routing_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// TestSippRegister: a phone registers with digest auth; the binding is
// listed, counted, and removed again with Expires: 0.
func TestSippRegister(t *testing.T) {
	h := newHarness(t)
	contact := sipptest.FreePorts(t, 1)
	h.register("1001", h.password("alice"), contact)
	regs := h.srv.Registrations()
	if len(regs) != 1 || regs[0].User != "alice" || !strings.Contains(regs[0].Contact, ":"+itoa(contact)) {
		t.Fatalf("registrations = %+v, want alice's contact on port %d", regs, contact)
	}
	if d := time.Until(regs[0].Expires); d < 290*time.Second || d > 300*time.Second {
		t.Errorf("binding expires in %v, want ~300s", d)
	}
	if st := h.srv.Stats(); st.Registrations != 1 || st.Users != 1 {
		t.Errorf("stats = %+v", st)
	}
	un := sipptest.Start(t, sipptest.Options{
		Name: "unregister", Scenario: scenario("reg.xml"), Remote: h.udp,
		Inf:  h.usersCSV(userLine("1001", h.password("alice"), contact)),
		Keys: map[string]string{"expires": "0"}, Timeout: 10 * time.Second,
	})
	if code := un.Wait(); code != 0 {
		t.Fatalf("unregister: sipp exit %d", code)
	}
	if regs := h.srv.Registrations(); len(regs) != 0 {
		t.Errorf("after Expires: 0, registrations = %+v", regs)
	}
}

// TestSippRegisterWrongPassword: a wrong password is re-challenged (401),
// never accepted; an unknown user gets exactly the same treatment; after
// the failure limit the user gets 403 from that source and shows in Stats.
func TestSippRegisterWrongPassword(t *testing.T) {
	h := newHarness(t, withThrottle(4))
	run := func(name, user string, calls int) *sipptest.Process {
		p := sipptest.Start(t, sipptest.Options{
			Name: name, Scenario: scenario("reg_wrongpw.xml"), Remote: h.udp, Calls: calls,
			Inf:     h.usersCSV(userLine(user, "wrong-password", 5999)),
			Timeout: 15 * time.Second,
		})
		if code := p.Wait(); code != 0 {
			t.Fatalf("%s: sipp exit %d", name, code)
		}
		return p
	}
	known := run("known-user", "1001", 1)
	unknown := run("unknown-user", "4711", 1)
	for _, p := range []*sipptest.Process{known, unknown} {
		if got := len(p.Received("SIP/2.0 401")); got != 2 {
			t.Errorf("%s: %d 401s, want 2 (challenge, re-challenge)", p.Name, got)
		}
		if got := len(p.Received("SIP/2.0 200")); got != 0 {
			t.Errorf("%s: registered with a wrong password", p.Name)
		}
	}
	assertSameChallenge(t, known.Received("SIP/2.0 401")[1], unknown.Received("SIP/2.0 401")[1])
	if st := h.srv.Stats(); st.FailedAuthBlocks != 0 || st.Registrations != 0 {
		t.Fatalf("after 2 failures: stats %+v", st)
	}
	// Three more failures of 1001 reach the limit of 4; then 1001 is
	// refused from this source.
	more := run("more-failures", "1001", 4)
	if got := len(more.Received("SIP/2.0 403")); got < 1 {
		t.Errorf("no 403 after the failure limit")
	}
	if st := h.srv.Stats(); st.FailedAuthBlocks != 1 {
		t.Errorf("FailedAuthBlocks = %d, want 1", st.FailedAuthBlocks)
	}
	if n := strings.Count(h.logs.String(), "authentication blocked"); n != 1 {
		t.Errorf("throttle logged %d times, want once", n)
	}
	// Even the right password is refused while the block lasts.
	ok := sipptest.Start(t, sipptest.Options{
		Name: "right-password", Scenario: scenario("reg_wrongpw.xml"), Remote: h.udp,
		Inf: h.usersCSV(userLine("1001", h.password("alice"), 5999)), Timeout: 10 * time.Second,
	})
	ok.Wait()
	if len(ok.Received("SIP/2.0 403")) != 1 || len(h.srv.Registrations()) != 0 {
		t.Errorf("throttled source registered anyway")
	}
}

// assertSameChallenge: a known user's and an unknown user's 401s differ
// only in the nonce (no user enumeration).
func assertSameChallenge(t *testing.T, a, b sipptest.Message) {
	t.Helper()
	norm := func(m sipptest.Message) string {
		var out []string
		for _, v := range m.Header("WWW-Authenticate") {
			i := strings.Index(v, `nonce="`)
			j := strings.Index(v[i+7:], `"`)
			out = append(out, v[:i]+v[i+7+j:])
		}
		return m.FirstLine() + " " + strings.Join(out, " | ")
	}
	if na, nb := norm(a), norm(b); na != nb {
		t.Errorf("challenges differ:\n known:   %s\n unknown: %s", na, nb)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
