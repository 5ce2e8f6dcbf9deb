package routing

import (
	"net/netip"
	"testing"
	"time"

	"deskgate/daemon/store"
	"deskgate/routing/ringplan"
)

func TestBranchBudget(t *testing.T) {
	b := newBranchBudget(10)
	steps := []struct {
		take, give int
		want       bool
		live       int64
	}{
		{take: 25, want: true, live: 25}, // alone: admitted however large
		{take: 1, want: false, live: 25}, // over the budget
		{give: 25, live: 0},              // the big call ended
		{take: 6, want: true, live: 6},   // within
		{take: 4, want: true, live: 10},  // exactly at the budget
		{take: 1, want: false, live: 10}, // one over
		{take: 0, want: true, live: 10},  // rejections cost nothing
		{give: 4, live: 6},               // one ended
		{take: 4, want: true, live: 10},  // room again
	}
	for i, st := range steps {
		if st.give > 0 {
			b.give(st.give)
		} else if got := b.take(st.take); got != st.want {
			t.Errorf("step %d: take(%d) = %v, want %v", i, st.take, got, st.want)
		}
		if got := b.live.Load(); got != st.live {
			t.Errorf("step %d: live = %d, want %d", i, got, st.live)
		}
	}
	if got := b.shed.Load(); got != 2 {
		t.Errorf("shed = %d, want 2", got)
	}
	if got := newBranchBudget(0).max; got != DefaultMaxLiveBranches {
		t.Errorf("default max = %d", got)
	}
}

func TestBranchCost(t *testing.T) {
	branches := make([]ringplan.Branch, 25)
	for _, tc := range []struct {
		plan ringplan.Plan
		want int
	}{
		{ringplan.Plan{Action: ringplan.ActionFork, Branches: branches}, 25},
		{ringplan.Plan{Action: ringplan.ActionFork, Fallback: "sip:vm@x"}, 1},
		{ringplan.Plan{Action: ringplan.ActionTrunk}, 1},
		{ringplan.Plan{Action: ringplan.ActionRedirect}, 1},
		{ringplan.Plan{Action: ringplan.ActionReject, Status: 480}, 0},
	} {
		if got := branchCost(tc.plan); got != tc.want {
			t.Errorf("%v: cost %d, want %d", tc.plan.Action, got, tc.want)
		}
	}
}

// TestShedCallOverBudget: with the branch budget used up, a call that
// would fork is refused with 503 and Retry-After before anything is sent,
// and the budget is left as it was.
func TestShedCallOverBudget(t *testing.T) {
	s := testServer(t, func(o *Options) {
		o.MaxLiveBranches = 5
		o.Trunk = TrunkOptions{Address: "192.0.2.99:5060", Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}}
	})
	now := s.now()
	if _, err := s.bindings.update("alice", []store.Binding{{User: "alice", Contact: "sip:1001@127.0.0.1:9",
		Source: "127.0.0.1:9", Transport: "UDP", CallID: "r1", CSeq: 1,
		Expires: now.Add(time.Hour), Updated: now}}, now); err != nil {
		t.Fatal(err)
	}
	if !s.branches.take(5) { // five branches of other calls ringing
		t.Fatal("take")
	}
	req := parseReq(t, `
INVITE sip:1001@test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-shed1
From: <sip:+15559990000@trunk.example>;tag=t1
To: <sip:1001@test.example>
Call-ID: shed-1
CSeq: 1 INVITE
Contact: <sip:+15559990000@192.0.2.10:5062>
Max-Forwards: 70
Content-Length: 0

`)
	tx := newCaptureTx()
	s.handle(req, tx)
	if tx.res == nil || tx.res.StatusCode != 503 || tx.res.Reason != "Service Unavailable" {
		t.Fatalf("response %v, want 503 Service Unavailable", tx.res)
	}
	if h := tx.res.GetHeader("Retry-After"); h == nil || h.Value() != "2" {
		t.Errorf("Retry-After = %v", h)
	}
	if got := s.branches.live.Load(); got != 5 {
		t.Errorf("live branches after the refusal = %d, want 5", got)
	}
	if got := s.calls.count(); got != 0 {
		t.Errorf("calls listed = %d, want 0", got)
	}
}
