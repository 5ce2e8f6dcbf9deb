package routing_test

import (
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// TestSippVoicemailSubscribe: issue 4 rule 6. A message-summary SUBSCRIBE
// for a mailbox goes to the trunk (where voicemail lives) only for the
// mailbox's user or an active assistant holding the voicemail permission;
// anyone else gets 403 and nothing reaches the trunk.
func TestSippVoicemailSubscribe(t *testing.T) {
	trunkPort := sipptest.FreePorts(t, 1)
	h := newHarnessOffice(t, teamOffice(time.Now()), withTrunk(trunkPort))
	trunk := sipptest.Start(t, sipptest.Options{Name: "trunk-notifier", Scenario: scenario("uas_subscribe.xml"),
		LocalIP: trunkIP, Port: trunkPort, Calls: 2, Timeout: 20 * time.Second})
	tests := []struct {
		name, ext, user, mailbox, want string
	}{
		{"the executive's own mailbox", "1010", "erin", "1010", "SIP/2.0 200"},
		{"active assistant with the voicemail permission", "1011", "amy", "1010", "SIP/2.0 200"},
		{"active assistant without the permission", "1012", "dan", "1010", "SIP/2.0 403"},
		{"pending assistant with the permission", "1013", "pat", "1010", "SIP/2.0 403"},
		{"a colleague", "1002", "bob", "1010", "SIP/2.0 403"},
		{"the executive watching the assistant's mailbox", "1010", "erin", "1011", "SIP/2.0 403"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := sipptest.Start(t, sipptest.Options{Name: "subscriber-" + tt.user, Scenario: scenario("uac_subscribe.xml"),
				Remote: h.udp, Service: tt.mailbox, Inf: h.usersCSV(userLine(tt.ext, h.password(tt.user), 5999)),
				Timeout: 10 * time.Second})
			wantExit(t, p)
			got := p.Received("SIP/2.0")
			if last := lastLine(got); !strings.HasPrefix(last, tt.want) {
				t.Errorf("final response %q, want %q", last, tt.want)
			}
		})
	}
	wantExit(t, trunk)
	subs := trunk.Received("SUBSCRIBE")
	if len(subs) != 2 {
		t.Fatalf("trunk got %d SUBSCRIBEs, want 2", len(subs))
	}
	for _, s := range subs {
		if !strings.HasPrefix(s.FirstLine(), "SUBSCRIBE sip:1010@"+trunkIP) {
			t.Errorf("trunk got %q, want erin's mailbox", s.FirstLine())
		}
		if ev := s.Header("Event"); len(ev) != 1 || ev[0] != "message-summary" {
			t.Errorf("Event %q", ev)
		}
	}
}
