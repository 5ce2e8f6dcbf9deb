package routing

import (
	"strings"
	"testing"

	"deskgate/daemon/directory/directorytest"
)

func TestAllowCallerID(t *testing.T) {
	snap := directorytest.MustParse(t, testOffice)
	tests := []struct {
		caller, presented string
		want              bool
	}{
		{"alice", "1001", true},
		{"alice", "alice", true},
		{"alice", "+15551230001", true},
		{"alice", "15551230011", true}, // a number dialled without '+'
		{"alice", "1002", false},       // bob's extension
		{"alice", "bob", false},
		{"alice", "+15559999999", false},
		{"alice", "", false},
		{"nobody", "1001", false},
		{"bob", "1002", true},
	}
	for _, tc := range tests {
		t.Run(tc.caller+" as "+tc.presented, func(t *testing.T) {
			if got := allowCallerID(snap, tc.caller, tc.presented); got != tc.want {
				t.Errorf("allowCallerID(%s, %q) = %v, want %v", tc.caller, tc.presented, got, tc.want)
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
	snap := directorytest.MustParse(t, testOffice)
	tests := []struct {
		name, caller, presented string
		toTrunk                 bool
		want                    string // P-Asserted-Identity values joined by " | "
	}{
		{"local call asserts the extension", "alice", "1001", false, `"Alice Able" <sip:1001@test.example>`},
		{"trunk gets the first number", "alice", "1001", true, `"Alice Able" <sip:+15551230001@test.example>`},
		{"trunk gets the presented number", "alice", "15551230011", true, `"Alice Able" <sip:+15551230011@test.example>`},
		{"no number, no assertion to the trunk", "bob", "1002", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := "P-Asserted-Identity: <sip:+1999@evil.example>\np-preferred-identity: <sip:1002@test.example>\n"
			req := parseReq(t, strings.Replace(inviteText, "Content-Length: 0\n", extra+"Content-Length: 0\n", 1))
			setIdentity(req, snap, tc.caller, tc.presented, tc.toTrunk, "test.example")
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
	s.auth.strip(req)
	hs := req.GetHeaders("Proxy-Authorization")
	if len(hs) != 1 || !strings.Contains(hs[0].Value(), `realm="upstream"`) {
		t.Errorf("after strip: %v, want only the upstream realm's", hs)
	}
}
