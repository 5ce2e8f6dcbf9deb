package routing_test

import (
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// TestSippCallerIDOnBehalf: issue 4 rule 3. An operator may call out as a
// department it operates and an active assistant as an executive it
// assists (From user or P-Preferred-Identity); the trunk gets that
// identity's number and name in P-Asserted-Identity; anything else is 403
// and reaches nobody. The assistant authenticates with its own
// credentials, never the executive's.
func TestSippCallerIDOnBehalf(t *testing.T) {
	// presenting makes a caller whose From user is from, authenticated as
	// user (digest username = ext), with an optional P-Preferred-Identity.
	presenting := func(scen, from, ext, user, ppi string) func(h *harness) sipptest.Options {
		return func(h *harness) sipptest.Options {
			line := from + ";x;127.0.0.1:5999;[authentication username=" + ext + " password=" + h.password(user) + "]"
			if ppi != "" {
				line += ";" + ppi
			}
			return sipptest.Options{Name: "caller-" + user, Scenario: scenario(scen), Remote: h.udp,
				Service: "15559876543", Inf: h.usersCSV(line), Timeout: 20 * time.Second}
		}
	}
	wantPAI := func(want string) func(t *testing.T, h *harness, r callResult) {
		return func(t *testing.T, h *harness, r callResult) {
			inv := r.trunk.Received("INVITE")
			if len(inv) == 0 {
				return // checkTrunk reported it
			}
			if pai := inv[0].Header("P-Asserted-Identity"); len(pai) != 1 || pai[0] != want {
				t.Errorf("P-Asserted-Identity at the trunk = %q, want %q", pai, want)
			}
			if ppi := inv[0].Header("P-Preferred-Identity"); len(ppi) != 0 {
				t.Errorf("P-Preferred-Identity reached the trunk: %q", ppi)
			}
		}
	}
	trunkInvite := "INVITE sip:15559876543@" + trunkIP
	runCallCases(t, []callCase{
		{
			name:      "operator as the department by P-Preferred-Identity",
			caller:    presenting("uac_forged.xml", "1020", "1020", "olga", "+15551232000"),
			trunkGets: trunkInvite,
			check: func(t *testing.T, h *harness, r callResult) {
				wantPAI(`"Support" <sip:+15551232000@test.example>`)(t, h, r)
				wantHistory(t, h, "olga", "out 15559876543 answered support")
			},
		},
		{
			name:      "assistant as the executive by From, with its own credentials",
			caller:    presenting("uac_call.xml", "1010", "1011", "amy", ""),
			trunkGets: trunkInvite,
			check: func(t *testing.T, h *harness, r callResult) {
				wantPAI(`"Erin Exec" <sip:+15551230010@test.example>`)(t, h, r)
				wantHistory(t, h, "amy", "out 15559876543 answered erin")
				wantHistory(t, h, "erin")
			},
		},
		{
			name:      "a department the caller does not operate: 403",
			caller:    presenting("uac_reject_ppi.xml", "1002", "1002", "bob", "2000"),
			wantFinal: "SIP/2.0 403",
			check:     func(t *testing.T, h *harness, r callResult) { wantHistory(t, h, "bob") },
		},
		{
			name:      "a pending assistant as the executive: 403",
			caller:    presenting("uac_reject.xml", "1010", "1013", "pat", ""),
			wantFinal: "SIP/2.0 403",
		},
		{
			name:      "an executive as its assistant: 403",
			caller:    presenting("uac_reject.xml", "1011", "1010", "erin", ""),
			wantFinal: "SIP/2.0 403",
		},
		{
			name:   "the assistant's password under the executive's username: challenged again",
			caller: presenting("uac_reject.xml", "1010", "1010", "amy", ""),
			check: func(t *testing.T, h *harness, r callResult) {
				got := r.caller.Received("SIP/2.0")
				if len(got) != 2 || !strings.HasPrefix(got[1].FirstLine(), "SIP/2.0 407") {
					t.Errorf("responses %d, last %q; want two 407s", len(got), lastLine(got))
				}
			},
		},
	})
}

// TestSippCallerIDNoTrunkLeak: a refused caller ID never reaches a local
// phone either.
func TestSippCallerIDNoTrunkLeak(t *testing.T) {
	runCallCases(t, []callCase{{
		name:   "bob as sales calling an operator",
		phones: []phoneSpec{{name: "olga", scen: "uas_answer.xml", ext: "1020", user: "olga"}},
		caller: func(h *harness) sipptest.Options {
			o := phoneCaller("uac_reject.xml", "2100", "bob", "1020")(h)
			o.Inf = h.usersCSV("2100;x;127.0.0.1:5999;[authentication username=1002 password=" + h.password("bob") + "]")
			return o
		},
		wantFinal: "SIP/2.0 403",
	}})
}

func lastLine(ms []sipptest.Message) string {
	if len(ms) == 0 {
		return ""
	}
	return ms[len(ms)-1].FirstLine()
}
