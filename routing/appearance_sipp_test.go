package routing_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// registerAs registers address of record aor (contact = port)
// authenticated as authExt with user's password, and returns the sipp
// process; refused selects a scenario that ends on the refusal.
func (h *harness) registerAs(aor, authExt, user string, port int, refused bool) *sipptest.Process {
	h.t.Helper()
	pw := h.password(user)
	line := fmt.Sprintf("%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]", aor, pw, port, authExt, pw)
	scen := "reg.xml"
	if refused {
		scen = "reg_wrongpw.xml" // ends on the 403
	}
	p := sipptest.Start(h.t, sipptest.Options{Name: "reg-" + aor + "-as-" + authExt, Scenario: scenario(scen),
		Remote: h.udp, Inf: h.usersCSV(line), Keys: map[string]string{"expires": "300"}, Timeout: 10 * time.Second})
	p.Wait()
	return p
}

// TestSippLineAppearance: an operator's phone registers the department's
// extension (its shared line account) and an active assistant's phone the
// executive's, with the user's own credentials; both are accepted and kept
// apart from ringing: a department call rings the operator's own line, not
// the appearance. Anyone else registering those extensions gets 403.
func TestSippLineAppearance(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()))
	own := h.phone("olga-own-line", "uas_answer.xml", "1020", "olga")
	appearance := sipptest.Start(t, sipptest.Options{Name: "olga-support-line", Scenario: scenario("uas_answer.xml"),
		Timeout: 20 * time.Second})
	tests := []struct {
		name, aor, ext, user string
		port                 int
		ok                   bool
	}{
		{"operator registers the department line", "2000", "1020", "olga", appearance.Port, true},
		{"active assistant registers the executive line", "1010", "1011", "amy", 5990, true},
		{"pending assistant", "1010", "1013", "pat", 5991, false},
		{"a colleague registers the department line", "2000", "1002", "bob", 5992, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := h.registerAs(tt.aor, tt.ext, tt.user, tt.port, !tt.ok)
			wantExit(t, p)
			want := "SIP/2.0 200"
			if !tt.ok {
				want = "SIP/2.0 403 Not Your Address Of Record"
			}
			if last := lastLine(p.Received("SIP/2.0")); !strings.HasPrefix(last, want) {
				t.Errorf("final response %q, want %q", last, want)
			}
		})
	}
	keys := map[string]bool{}
	for _, r := range h.srv.Registrations() {
		keys[r.User] = true
	}
	if !keys["appearance:support"] || !keys["appearance:erin"] || !keys["olga"] || len(keys) != 3 {
		t.Errorf("registrations under %v, want olga, appearance:support and appearance:erin", keys)
	}
	if st := h.srv.Stats(); st.Users != 1 || st.Appearances != 2 || st.Registrations != 3 {
		t.Errorf("Stats = %+v, want 1 user, 2 appearances of 3 registrations", st)
	}
	// A call to the department rings the operator's own line only.
	caller := h.call("bob-calls-support", "uac_call.xml", "1002", "bob", "2000")
	wantExit(t, caller)
	wantExit(t, own)
	appearance.Stop()
	if n := len(appearance.Received("INVITE")); n != 0 {
		t.Errorf("the line appearance rang (%d INVITEs)", n)
	}
	if !strings.Contains(h.logs.String(), "appearance:support") {
		t.Error("appearance registration not logged")
	}
}
