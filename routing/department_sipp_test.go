package routing_test

import (
	"testing"
)

// TestSippDepartment: issue 4 rule 1. A department call rings every
// available operator's phones at once; away (for the department or all),
// DND and unregistered operators get no INVITE; the first answer wins and
// every other phone gets CANCEL with Reason "Call completed elsewhere";
// ring_timeout goes to no_answer (or 480); nobody available goes to
// no_answer at once; closed hours go to closed. olga operates support and
// sales and rings for each.
func TestSippDepartment(t *testing.T) {
	operators := func(first string) []phoneSpec {
		return []phoneSpec{
			{name: "olga", scen: first, ext: "1020", user: "olga", rings: true},
			{name: "oscar", scen: "uas_noanswer.xml", ext: "1021", user: "oscar", rings: true},
			{name: "otto-desk", scen: "uas_noanswer.xml", ext: "1022", user: "otto", rings: true},
			{name: "otto-mobile", scen: "uas_noanswer.xml", ext: "1022", user: "otto", rings: true},
			{name: "uma-dnd", scen: "uas_answer.xml", ext: "1023", user: "uma"},
			{name: "vic-away-support", scen: "uas_answer.xml", ext: "1024", user: "vic"},
			{name: "wes-away-all", scen: "uas_answer.xml", ext: "1025", user: "wes"},
			// xena is not registered
		}
	}
	unavailable := func(t *testing.T, h *harness) {
		setPresence(t, h, "uma", dndOn)
		setPresence(t, h, "vic", awayFrom("support"))
		setPresence(t, h, "wes", awayAll)
	}
	runCallCases(t, []callCase{
		{
			name:   "first answer wins, the others are cancelled as completed elsewhere",
			phones: operators("uas_answer.xml"), setup: unavailable,
			caller: phoneCaller("uac_call.xml", "1002", "bob", "2000"),
			check: func(t *testing.T, h *harness, r callResult) {
				for _, n := range []string{"oscar", "otto-desk", "otto-mobile"} {
					wantCancel(t, n, r.phones[n], true)
				}
				if len(r.phones["olga"].Received("BYE")) != 1 {
					t.Error("olga did not get the BYE")
				}
				wantHistory(t, h, "olga", "in 1002 answered support")
				wantHistory(t, h, "bob", "out 2000 answered")
				wantHistory(t, h, "support")
				wantHistory(t, h, "oscar")
			},
		},
		{
			name:   "ring timeout goes to no_answer through the trunk",
			phones: operators("uas_noanswer.xml"), setup: unavailable,
			caller:    trunkCaller("uac_call.xml", "+15559990000", "+15551232000"),
			trunkGets: "INVITE sip:vm-2000@voicemail.example.test",
			check: func(t *testing.T, h *harness, r callResult) {
				for _, n := range []string{"olga", "oscar", "otto-desk", "otto-mobile"} {
					wantCancel(t, n, r.phones[n], false)
				}
				wantHistory(t, h, "support", "in +15559990000 missed")
			},
		},
		{
			name: "nobody available goes to no_answer at once",
			phones: []phoneSpec{
				{name: "olga-away-all", scen: "uas_answer.xml", ext: "1020", user: "olga"},
				{name: "oscar-dnd", scen: "uas_answer.xml", ext: "1021", user: "oscar"},
				{name: "otto-away-support", scen: "uas_answer.xml", ext: "1022", user: "otto"},
			},
			setup: func(t *testing.T, h *harness) {
				setPresence(t, h, "olga", awayAll)
				setPresence(t, h, "oscar", dndOn)
				setPresence(t, h, "otto", awayFrom("support"))
			},
			caller:    phoneCaller("uac_call.xml", "1002", "bob", "2000"),
			trunkGets: "INVITE sip:vm-2000@voicemail.example.test",
		},
		{
			name:      "ring timeout without no_answer: 480; olga rings for her second department",
			phones:    []phoneSpec{{name: "olga", scen: "uas_noanswer.xml", ext: "1020", user: "olga", rings: true}},
			caller:    phoneCaller("uac_reject.xml", "1002", "bob", "2100"),
			wantFinal: "SIP/2.0 480",
			check: func(t *testing.T, h *harness, r callResult) {
				wantHistory(t, h, "sales", "in 1002 missed")
			},
		},
		{
			name:      "closed hours go to closed, nothing rings",
			phones:    []phoneSpec{{name: "oscar", scen: "uas_answer.xml", ext: "1021", user: "oscar"}},
			caller:    phoneCaller("uac_call.xml", "1002", "bob", "2200"),
			trunkGets: "INVITE sip:closed-2200@voicemail.example.test",
		},
	})
}
