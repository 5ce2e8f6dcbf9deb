package routing

import (
	"strings"
	"testing"

	"deskgate/daemon/directory/directorytest"
)

// idOffice has an operator, an executive with an active and a pending
// assistant, and an assistant who also operates a department.
const idOffice = `
	plan: pro
	timezone: UTC
	users:
	  - {id: alice, name: Alice Able, extension: "1001", numbers: ["+15551230001", "+15551230011"], license: talk}
	  - {id: bob, name: Bob Baker, extension: "1002", license: talk}
	  - {id: exec, name: Erin Exec, extension: "1010", numbers: ["+15551230010"], license: talk}
	  - {id: asst, name: Amy Asst, extension: "1011", license: talk}
	  - {id: pend, name: Pat Pending, extension: "1012", license: talk}
	departments:
	  - {id: support, name: Support, extension: "2000", numbers: ["+15551232000"], operators: [alice, asst]}
	  - {id: sales, name: Sales, extension: "2100", operators: [bob]}
	pairings:
	  - {executive: exec, assistant: asst, state: active}
	  - {executive: exec, assistant: pend, state: pending}
`

func TestCallerIdentity(t *testing.T) {
	snap := directorytest.MustParse(t, idOffice)
	tests := []struct {
		caller, presented string
		want              string // "" = refused, else the identity's id and on-behalf-of
	}{
		{"alice", "1001", "alice"},
		{"alice", "alice", "alice"},
		{"alice", "+15551230001", "alice"},
		{"alice", "15551230011", "alice"}, // a number dialled without '+'
		{"alice", "1002", ""},             // bob's extension
		{"alice", "bob", ""},
		{"alice", "+15559999999", ""},
		{"alice", "", ""},
		{"nobody", "1001", ""},
		{"bob", "1002", "bob"},
		{"alice", "2000", "support on behalf of support"},         // a department alice operates
		{"alice", "+15551232000", "support on behalf of support"}, // by its number
		{"alice", "support", "support on behalf of support"},      // by its id
		{"alice", "2100", ""},                                     // sales: bob's department
		{"asst", "1010", "exec on behalf of exec"},                // the executive asst assists
		{"asst", "15551230010", "exec on behalf of exec"},         // by number
		{"asst", "2000", "support on behalf of support"},          // an assistant who also operates
		{"pend", "1010", ""},                                      // a pending pairing has no effect
		{"exec", "1011", ""},                                      // the executive cannot present the assistant
		{"asst", "+15551230001", ""},                              // nor anyone else
	}
	for _, tc := range tests {
		t.Run(tc.caller+" as "+tc.presented, func(t *testing.T) {
			id, ok := callerIdentity(snap, tc.caller, tc.presented)
			got := ""
			if ok {
				if id.dept != nil {
					got = id.dept.ID
				} else {
					got = id.user.ID
				}
				if o := id.onBehalfOf(tc.caller); o != "" {
					got += " on behalf of " + o
				}
			}
			if got != tc.want {
				t.Errorf("callerIdentity(%s, %q) = %q, want %q", tc.caller, tc.presented, got, tc.want)
			}
			if allowCallerID(snap, tc.caller, tc.presented) != (tc.want != "") {
				t.Errorf("allowCallerID disagrees with callerIdentity")
			}
		})
	}
	if allowCallerID(nil, "alice", "1001") {
		t.Error("allowed without a directory")
	}
}

func TestPresentedIdentity(t *testing.T) {
	tests := []struct {
		name, headers, want string
	}{
		{"from", "", "1001"},
		{"ppi wins", "P-Preferred-Identity: \"A\" <sip:+15551230001@test.example>\n", "+15551230001"},
		{"ppi tel", "P-Preferred-Identity: <tel:+15551230011;phone-context=x>\n", "+15551230011"},
		{"first of two", "P-Preferred-Identity: <sip:1002@test.example>, <tel:+1>\n", "1002"},
		{"garbage ppi", "P-Preferred-Identity: <<<\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, strings.Replace(inviteText, "Content-Length: 0\n", tc.headers+"Content-Length: 0\n", 1))
			if got := presentedIdentity(req); got != tc.want {
				t.Errorf("presentedIdentity = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestSetIdentity(t *testing.T) {
	snap := directorytest.MustParse(t, idOffice)
	tests := []struct {
		name, caller, presented string
		toTrunk                 bool
		want                    string // P-Asserted-Identity values joined by " | "
	}{
		{"local call asserts the extension", "alice", "1001", false, `"Alice Able" <sip:1001@test.example>`},
		{"trunk gets the first number", "alice", "1001", true, `"Alice Able" <sip:+15551230001@test.example>`},
		{"trunk gets the presented number", "alice", "15551230011", true, `"Alice Able" <sip:+15551230011@test.example>`},
		{"no number, no assertion to the trunk", "bob", "1002", true, ""},
		{"operator as the department to the trunk", "alice", "2000", true, `"Support" <sip:+15551232000@test.example>`},
		{"operator as the department locally", "alice", "+15551232000", false, `"Support" <sip:2000@test.example>`},
		{"assistant as the executive to the trunk", "asst", "1010", true, `"Erin Exec" <sip:+15551230010@test.example>`},
		{"department without a number to the trunk", "bob", "2100", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := "P-Asserted-Identity: <sip:+1999@evil.example>\np-preferred-identity: <sip:1002@test.example>\n"
			req := parseReq(t, strings.Replace(inviteText, "Content-Length: 0\n", extra+"Content-Length: 0\n", 1))
			id, ok := callerIdentity(snap, tc.caller, tc.presented)
			if !ok {
				t.Fatalf("%s may not present %s", tc.caller, tc.presented)
			}
			setIdentity(req, id, tc.presented, tc.toTrunk, "test.example")
			var got []string
			for _, h := range req.GetHeaders("P-Asserted-Identity") {
				got = append(got, h.Value())
			}
			if strings.Join(got, " | ") != tc.want {
				t.Errorf("P-Asserted-Identity %q, want %q", got, tc.want)
			}
			if h := req.GetHeaders("P-Preferred-Identity"); len(h) != 0 {
				t.Errorf("P-Preferred-Identity kept: %v", h)
			}
		})
	}
}

func TestStripCredentials(t *testing.T) {
	s := testServer(t)
	extra := "Proxy-Authorization: Digest username=\"x\", realm=\"upstream\", nonce=\"n\", uri=\"sip:a\", response=\"r\"\n"
	req := parseReq(t, strings.Replace(inviteText, "Content-Length: 0\n", extra+"Content-Length: 0\n", 1))
	s.auth.Strip(req)
	hs := req.GetHeaders("Proxy-Authorization")
	if len(hs) != 1 || !strings.Contains(hs[0].Value(), `realm="upstream"`) {
		t.Errorf("after strip: %v, want only the upstream realm's", hs)
	}
}
