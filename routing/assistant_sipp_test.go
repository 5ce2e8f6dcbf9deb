package routing_test

import (
	"strings"
	"testing"
)

// TestSippAssistant: issue 4 rule 2. A call to an executive also rings the
// phones of every active assistant, whose INVITE shows "Caller for
// Executive" in the From display-name and names the executive in
// History-Info; pending pairings have no effect; the executive in DND rings
// only assistants; closed hours go to closed; an assistant's 486/603 ends
// only that branch; the executive's 603 or the timeout go to no_answer; a
// call that reached the executive as a department operator does not ring
// the assistants.
func TestSippAssistant(t *testing.T) {
	assistantsOnly := func(t *testing.T, h *harness, r callResult) {
		wantHistory(t, h, "amy")
		wantHistory(t, h, "pat")
	}
	runCallCases(t, []callCase{
		{
			name: "trunk call transferred in by an auto receptionist: the assistant answers",
			phones: []phoneSpec{
				{name: "erin", scen: "uas_noanswer.xml", ext: "1010", user: "erin", rings: true},
				{name: "amy", scen: "uas_answer.xml", ext: "1011", user: "amy", rings: true},
				{name: "pat-pending", scen: "uas_answer.xml", ext: "1013", user: "pat"},
			},
			caller: trunkCaller("uac_transfer.xml", "+15559990000", "+15551230010"),
			check: func(t *testing.T, h *harness, r callResult) {
				inv := r.phones["amy"].Received("INVITE")[0]
				if from := strings.Join(inv.Header("From"), ""); !strings.HasPrefix(from, `"Alice Caller for Erin Exec" <sip:+15559990000@`) {
					t.Errorf("assistant's From = %q, want the caller for the executive", from)
				}
				hi := inv.Header("History-Info")
				if len(hi) != 1 || hi[0] != "<sip:1010@test.example>;index=1,<sip:1011@test.example>;index=1.1;mp=1" {
					t.Errorf("assistant's History-Info = %q, want ours naming the executive only", hi)
				}
				einv := r.phones["erin"].Received("INVITE")[0]
				if from := strings.Join(einv.Header("From"), ""); !strings.HasPrefix(from, `"Alice Caller" <sip:+15559990000@`) {
					t.Errorf("executive's From = %q, want the caller unchanged", from)
				}
				wantCancel(t, "erin", r.phones["erin"], true)
				wantHistory(t, h, "erin", "in +15559990000 answered")
				wantHistory(t, h, "amy", "in +15559990000 answered erin")
			},
		},
		{
			name: "executive in DND: only the assistants ring",
			phones: []phoneSpec{
				{name: "erin-dnd", scen: "uas_answer.xml", ext: "1010", user: "erin"},
				{name: "amy", scen: "uas_answer.xml", ext: "1011", user: "amy", rings: true},
			},
			setup:  func(t *testing.T, h *harness) { setPresence(t, h, "erin", dndOn) },
			caller: phoneCaller("uac_call.xml", "1002", "bob", "1010"),
			check: func(t *testing.T, h *harness, r callResult) {
				inv := r.phones["amy"].Received("INVITE")[0]
				if from := strings.Join(inv.Header("From"), ""); !strings.HasPrefix(from, `"Bob Baker for Erin Exec"`) {
					t.Errorf("assistant's From = %q", from)
				}
			},
		},
		{
			name: "assistant busy ends only the assistant's branch",
			phones: []phoneSpec{
				{name: "erin", scen: "uas_answer.xml", ext: "1010", user: "erin", rings: true},
				{name: "amy-busy", scen: "uas_busy.xml", ext: "1011", user: "amy", rings: true},
			},
			caller: phoneCaller("uac_call.xml", "1002", "bob", "1010"),
			check: func(t *testing.T, h *harness, r callResult) {
				wantHistory(t, h, "erin", "in 1002 answered")
				assistantsOnly(t, h, r)
			},
		},
		{
			name: "assistant declining ends only the assistant's branch",
			phones: []phoneSpec{
				{name: "erin", scen: "uas_answer.xml", ext: "1010", user: "erin", rings: true},
				{name: "amy-decline", scen: "uas_decline.xml", ext: "1011", user: "amy", rings: true},
			},
			caller: phoneCaller("uac_call.xml", "1002", "bob", "1010"),
			check: func(t *testing.T, h *harness, r callResult) {
				wantHistory(t, h, "bob", "out 1010 answered")
				assistantsOnly(t, h, r)
			},
		},
		{
			name: "executive declining sends the call to no_answer",
			phones: []phoneSpec{
				{name: "erin-decline", scen: "uas_decline.xml", ext: "1010", user: "erin", rings: true},
				{name: "amy", scen: "uas_noanswer.xml", ext: "1011", user: "amy", rings: true},
			},
			caller:    phoneCaller("uac_call.xml", "1002", "bob", "1010"),
			trunkGets: "INVITE sip:vm-1010@voicemail.example.test",
			check: func(t *testing.T, h *harness, r callResult) {
				wantCancel(t, "amy", r.phones["amy"], false)
				wantHistory(t, h, "erin", "in 1002 missed")
				assistantsOnly(t, h, r)
			},
		},
		{
			name: "nobody answers within ring_timeout: no_answer",
			phones: []phoneSpec{
				{name: "erin", scen: "uas_noanswer.xml", ext: "1010", user: "erin", rings: true},
				{name: "amy", scen: "uas_noanswer.xml", ext: "1011", user: "amy", rings: true},
			},
			caller:    trunkCaller("uac_call.xml", "+15559990000", "1010"),
			trunkGets: "INVITE sip:vm-1010@voicemail.example.test",
			check: func(t *testing.T, h *harness, r callResult) {
				wantCancel(t, "erin", r.phones["erin"], false)
				wantCancel(t, "amy", r.phones["amy"], false)
				assistantsOnly(t, h, r)
			},
		},
		{
			name:      "executive closed hours: closed, the assistant does not ring",
			phones:    []phoneSpec{{name: "amy", scen: "uas_answer.xml", ext: "1011", user: "amy"}},
			caller:    phoneCaller("uac_call.xml", "1002", "bob", "1014"),
			trunkGets: "INVITE sip:closed-1014@voicemail.example.test",
		},
		{
			name: "executive reached as a department operator: the assistant does not ring",
			phones: []phoneSpec{
				{name: "erin", scen: "uas_answer.xml", ext: "1010", user: "erin", rings: true},
				{name: "amy", scen: "uas_answer.xml", ext: "1011", user: "amy"},
			},
			caller: phoneCaller("uac_call.xml", "1002", "bob", "2300"),
			check: func(t *testing.T, h *harness, r callResult) {
				wantHistory(t, h, "erin", "in 1002 answered board")
			},
		},
	})
}
