package routing

import (
	"strings"
	"testing"
	"time"

	"deskgate/routing/events"
	"deskgate/routing/fork"
)

// TestPickup: an INVITE with Replaces naming a ringing call is a directed
// pickup: allowed for the line's own people (the user, an active
// assistant), routed to the caller's phone with Replaces written from the
// caller's side and our Record-Route; refused with 403 for anyone else.
func TestPickup(t *testing.T) {
	tests := []struct {
		name, ext, user string
		replaces        string
		want            string
		forwarded       bool
	}{
		{name: "active assistant, tags from the callee's side", ext: "1011", user: "amy",
			replaces: "c1@192.0.2.30;to-tag=tt;from-tag=ft;early-only", want: "200 X", forwarded: true},
		{name: "the executive's own other phone, tags from the caller's side", ext: "1010", user: "erin",
			replaces: "c1@192.0.2.30;to-tag=ft;from-tag=tt", want: "200 X", forwarded: true},
		{name: "pending assistant", ext: "1013", user: "pat", replaces: "c1@192.0.2.30;to-tag=tt;from-tag=ft",
			want: "403 Pickup Not Allowed"},
		{name: "a colleague", ext: "1001", user: "alice", replaces: "c1@192.0.2.30;to-tag=tt;from-tag=ft",
			want: "403 Pickup Not Allowed"},
		{name: "wrong tags: not a pickup, an ordinary call", ext: "1011", user: "amy",
			replaces: "c1@192.0.2.30;to-tag=x;from-tag=y", want: "480 Temporarily Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sink := keysServer(t)
			now := time.Now()
			s.lines.start(lineCall{callID: "c1@192.0.2.30", callerExt: []string{"1002"}, targetExt: "1010",
				caller:       events.Participant{Identity: "sip:1002@test.example", Target: "sip:1002@192.0.2.30:5070"},
				callerSource: "192.0.2.30:5070", callerTransport: "UDP", fromTag: "ft"}, now)
			s.lines.event(fork.Event{Kind: fork.EventRinging, CallID: "c1@192.0.2.30", ToTag: "tt"}, "1010", now)
			res := exchange(t, s, signedInvite(t, s, "1010", tt.ext, tt.user, 1, "Replaces: "+tt.replaces))
			if got := status(res); got != tt.want {
				t.Fatalf("answered %q, want %q", got, tt.want)
			}
			var invites []string
			for _, r := range sink.all() {
				if r.Method != "INVITE" {
					continue
				}
				invites = append(invites, r.Recipient.String())
				if r.Destination() != "192.0.2.30:5070" {
					t.Errorf("pickup sent to %s, want the caller's source", r.Destination())
				}
				if got := r.GetHeader("Replaces").Value(); got != "c1@192.0.2.30;to-tag=ft;from-tag=tt;early-only" {
					t.Errorf("Replaces %q, want the caller's view of its early dialog", got)
				}
				if rr := r.GetHeaders("Record-Route"); len(rr) == 0 || !strings.Contains(rr[0].Value(), ";dg=") {
					t.Errorf("Record-Route %v, want ours", rr)
				}
				if r.GetHeader("Proxy-Authorization") != nil {
					t.Error("credentials forwarded")
				}
			}
			if tt.forwarded != (len(invites) == 1) || (tt.forwarded && invites[0] != "sip:1002@192.0.2.30:5070") {
				t.Errorf("forwarded %q", invites)
			}
		})
	}
}
