package routing

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory/directorytest"
	"deskgate/routing/fork"
	"deskgate/routing/ringplan"
)

func TestHistoryEntries(t *testing.T) {
	snap := directorytest.MustParse(t, idOffice)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	answeredBy := func(user, onBehalfOf string) fork.Outcome {
		return fork.Outcome{Status: 200, Result: fork.ResultAnswered, Answered: ringplan.Branch{User: user, OnBehalfOf: onBehalfOf}}
	}
	tests := []struct {
		name string
		rec  callRecord
		out  fork.Outcome
		want string // "user: direction peer result [on_behalf_of]" per entry, "; "-joined
	}{
		{
			name: "internal call answered: out for the caller, in for the callee",
			rec:  callRecord{caller: "bob", callerPeer: "1002", target: ringplan.Classify(snap, "1001")},
			out:  answeredBy("alice", ""),
			want: "bob: out 1001 answered; alice: in 1002 answered",
		},
		{
			name: "trunk call missed: only the callee",
			rec:  callRecord{callerPeer: "+15559990000", target: ringplan.Classify(snap, "+15551230001")},
			out:  fork.Outcome{Status: 480, Result: fork.ResultMissed},
			want: "alice: in +15559990000 missed",
		},
		{
			name: "executive's call answered by the assistant: both, the assistant on behalf",
			rec:  callRecord{callerPeer: "+15559990000", target: ringplan.Classify(snap, "1010")},
			out:  answeredBy("asst", "exec"),
			want: "exec: in +15559990000 answered; asst: in +15559990000 answered exec",
		},
		{
			name: "executive's call missed: not in the assistant's history",
			rec:  callRecord{callerPeer: "+15559990000", target: ringplan.Classify(snap, "1010")},
			out:  fork.Outcome{Status: 480, Result: fork.ResultMissed, TimedOut: true},
			want: "exec: in +15559990000 missed",
		},
		{
			name: "executive's call declined: not in the assistant's history",
			rec:  callRecord{callerPeer: "1002", caller: "bob", target: ringplan.Classify(snap, "1010")},
			out:  fork.Outcome{Status: 603, Result: fork.ResultDeclined},
			want: "bob: out 1010 declined; exec: in 1002 declined",
		},
		{
			name: "executive answered own phone: nothing for the assistant",
			rec:  callRecord{callerPeer: "1002", caller: "bob", target: ringplan.Classify(snap, "1010")},
			out:  answeredBy("exec", ""),
			want: "bob: out 1010 answered; exec: in 1002 answered",
		},
		{
			name: "assistant calling out as the executive: on behalf in the assistant's history",
			rec:  callRecord{caller: "asst", onBehalfOf: "exec", callerPeer: "1010", target: ringplan.Classify(snap, "+15559876543")},
			out:  answeredBy("", ""),
			want: "asst: out +15559876543 answered exec",
		},
		{
			name: "department call answered: for the operator who answered, on behalf of the department",
			rec:  callRecord{callerPeer: "+15559990000", target: ringplan.Classify(snap, "2000")},
			out:  answeredBy("alice", ""),
			want: "alice: in +15559990000 answered support",
		},
		{
			name: "department call missed: for the department",
			rec:  callRecord{callerPeer: "+15559990000", target: ringplan.Classify(snap, "+15551232000")},
			out:  fork.Outcome{Status: 480, Result: fork.ResultMissed},
			want: "support: in +15559990000 missed",
		},
		{
			name: "department call that went to no_answer voicemail: missed for the department",
			rec:  callRecord{callerPeer: "+15559990000", target: ringplan.Classify(snap, "2000")},
			out:  fork.Outcome{Status: 200, Result: fork.ResultMissed, Fallback: "sip:vm@x"},
			want: "support: in +15559990000 missed",
		},
		{
			name: "operator calling out as the department",
			rec:  callRecord{caller: "alice", onBehalfOf: "support", callerPeer: "2000", target: ringplan.Classify(snap, "1002")},
			out:  fork.Outcome{Status: 486, Result: fork.ResultDeclined},
			want: "alice: out 1002 declined support; bob: in 2000 declined",
		},
		{
			name: "unknown target: only the caller, failed",
			rec:  callRecord{caller: "bob", callerPeer: "1002", target: ringplan.Classify(snap, "jdoe")},
			out:  fork.Outcome{Status: 404, Result: fork.ResultFailed},
			want: "bob: out jdoe failed",
		},
		{
			name: "no result (the executor stopped early): failed",
			rec:  callRecord{caller: "bob", callerPeer: "1002", target: ringplan.Classify(snap, "1001")},
			want: "bob: out 1001 failed; alice: in 1002 failed",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.rec.start, tt.rec.callID = start, "c1"
			var got []string
			for _, w := range historyEntries(tt.rec, tt.out) {
				e := w.entry
				if !e.Time.Equal(start) || e.CallID != "c1" {
					t.Errorf("entry for %s: time %v call id %q", w.user, e.Time, e.CallID)
				}
				got = append(got, strings.TrimSpace(fmt.Sprintf("%s: %s %s %s %s", w.user, e.Direction, e.Peer, e.Result, e.OnBehalfOf)))
			}
			if g := strings.Join(got, "; "); g != tt.want {
				t.Errorf("entries:\n got %s\nwant %s", g, tt.want)
			}
		})
	}
}

func TestMailboxAllowed(t *testing.T) {
	snap := directorytest.MustParse(t, `
	plan: pro
	timezone: UTC
	users:
	  - {id: exec, extension: "1010", license: talk}
	  - {id: vm, extension: "1011", license: talk}
	  - {id: novm, extension: "1012", license: talk}
	  - {id: pend, extension: "1013", license: talk}
	pairings:
	  - {executive: exec, assistant: vm, state: active, permissions: [voicemail, recordings]}
	  - {executive: exec, assistant: novm, state: active, permissions: [transcripts]}
	  - {executive: exec, assistant: pend, state: pending, permissions: [voicemail]}
`)
	tests := []struct {
		subscriber, owner string
		want              bool
	}{
		{"exec", "exec", true},
		{"vm", "vm", true},
		{"vm", "exec", true},    // active with voicemail
		{"novm", "exec", false}, // active without voicemail
		{"pend", "exec", false}, // pending
		{"exec", "vm", false},   // the executive has no right to the assistant's mailbox
		{"vm", "novm", false},   // a colleague
		{"", "exec", false},     // nobody
		{"vm", "", false},       // no mailbox
	}
	for _, tt := range tests {
		t.Run(tt.subscriber+" watches "+tt.owner, func(t *testing.T) {
			if got := mailboxAllowed(snap, tt.subscriber, tt.owner); got != tt.want {
				t.Errorf("mailboxAllowed(%q, %q) = %v, want %v", tt.subscriber, tt.owner, got, tt.want)
			}
		})
	}
	if mailboxAllowed(nil, "vm", "exec") {
		t.Error("allowed without a directory")
	}
}
