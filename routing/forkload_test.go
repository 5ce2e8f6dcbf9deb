package routing

import (
	"net/netip"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
	"deskgate/routing/fork"
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

func TestSetupGate(t *testing.T) {
	g := newSetupGate(2)
	steps := []struct {
		op, id string
		want   bool
		n      int
	}{
		{"enter", "a", true, 1},
		{"enter", "a", true, 2}, // the same Call-ID twice (a re-forked call)
		{"enter", "b", false, 2},
		{"leave", "a", false, 1},
		{"leave", "x", false, 1}, // unknown: nothing
		{"enter", "b", true, 2},
		{"leave", "b", false, 1},
		{"leave", "b", false, 1}, // again: nothing
		{"leave", "a", false, 0},
		{"leave", "a", false, 0},
	}
	for i, st := range steps {
		if st.op == "enter" {
			if got := g.enter(st.id); got != st.want {
				t.Errorf("step %d: enter(%s) = %v", i, st.id, got)
			}
		} else {
			g.leave(st.id)
		}
		if got := g.count(); got != st.n {
			t.Errorf("step %d: count = %d, want %d", i, got, st.n)
		}
	}
	if len(g.ids) != 0 {
		t.Errorf("ids left: %v", g.ids)
	}
	g.enter("c")
	for _, k := range []fork.EventKind{fork.EventBranchEnded, fork.EventRinging} {
		g.progress(fork.Event{Kind: k, CallID: "c"})
	}
	if g.count() != 0 {
		t.Error("ringing did not end the set-up")
	}
	if got := newSetupGate(0).max; got != DefaultMaxSetupCalls {
		t.Errorf("default max = %d", got)
	}
}

// TestAdmitCall: a call takes a set-up place and its branches, and release
// gives both back; a rejection plan takes nothing.
func TestAdmitCall(t *testing.T) {
	s := testServer(t)
	req := parseReq(t, shedInvite)
	release, ok := s.admitCall(req, newCaptureTx(), 25)
	if !ok || s.inSetup.count() != 1 || s.branches.live.Load() != 25 {
		t.Fatalf("admitted %v, in set-up %d, branches %d", ok, s.inSetup.count(), s.branches.live.Load())
	}
	s.callEvent(fork.Event{Kind: fork.EventRinging, CallID: "shed-1"})
	if s.inSetup.count() != 0 || s.branches.live.Load() != 25 {
		t.Errorf("after ringing: in set-up %d, branches %d", s.inSetup.count(), s.branches.live.Load())
	}
	release()
	if s.inSetup.count() != 0 || s.branches.live.Load() != 0 {
		t.Errorf("after release: in set-up %d, branches %d", s.inSetup.count(), s.branches.live.Load())
	}
	if release, ok := s.admitCall(req, newCaptureTx(), 0); !ok || s.inSetup.count() != 0 {
		t.Error("a rejection took a set-up place")
	} else {
		release()
	}
}

const shedInvite = `
INVITE sip:1001@test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-shed1
From: <sip:+15559990000@trunk.example>;tag=t1
To: <sip:1001@test.example>
Call-ID: shed-1
CSeq: 1 INVITE
Contact: <sip:+15559990000@192.0.2.10:5062>
Max-Forwards: 70
Content-Length: 0

`

// TestShedCallOverBudget: with the branch budget or the set-up places used
// up, a call that would fork is refused with 503 and Retry-After before
// anything is sent, and the budgets are left as they were.
func TestShedCallOverBudget(t *testing.T) {
	for _, full := range []string{"branches", "setup"} {
		t.Run(full, func(t *testing.T) { testShed(t, full) })
	}
}

func testShed(t *testing.T, full string) {
	s := testServer(t, func(o *Options) {
		o.MaxLiveBranches = 5
		o.MaxSetupCalls = 1
		o.Trunk = TrunkOptions{Address: "192.0.2.99:5060", Trusted: []netip.Prefix{netip.MustParsePrefix("192.0.2.10/32")}}
	})
	now := s.now()
	if _, err := s.bindings.Update("alice", []store.Binding{{User: "alice", Contact: "sip:1001@127.0.0.1:9",
		Source: "127.0.0.1:9", Transport: "UDP", CallID: "r1", CSeq: 1,
		Expires: now.Add(time.Hour), Updated: now}}, now); err != nil {
		t.Fatal(err)
	}
	wantBranches, wantSetup := int64(0), 0
	switch full {
	case "branches":
		s.branches.take(5) // five branches of other calls ringing
		wantBranches = 5
	case "setup":
		s.inSetup.enter("other") // another call not ringing yet
		wantSetup = 1
	}
	req := parseReq(t, shedInvite)
	tx := newCaptureTx()
	s.handle(req, tx)
	if tx.res == nil || tx.res.StatusCode != 503 || tx.res.Reason != "Service Unavailable" {
		t.Fatalf("response %v, want 503 Service Unavailable", tx.res)
	}
	if h := tx.res.GetHeader("Retry-After"); h == nil || h.Value() != "2" {
		t.Errorf("Retry-After = %v", h)
	}
	if got := s.branches.live.Load(); got != wantBranches {
		t.Errorf("live branches after the refusal = %d, want %d", got, wantBranches)
	}
	if got := s.inSetup.count(); got != wantSetup {
		t.Errorf("calls in set-up after the refusal = %d, want %d", got, wantSetup)
	}
	if got := s.calls.count(); got != 0 {
		t.Errorf("calls listed = %d, want 0", got)
	}
}

// connTx is a server transaction with its connection, as sipgo's are.
type connTx struct {
	*captureTx
	conn       *captureConn
	terminated bool
}

func (t *connTx) Connection() sip.Connection { return t.conn }
func (t *connTx) Terminate()                 { t.terminated = true }

type captureConn struct {
	sip.Connection // only WriteMsg is called
	sent           []sip.Message
}

func (c *captureConn) WriteMsg(m sip.Message) error { c.sent = append(c.sent, m); return nil }

// TestShedStateless: the 503 goes straight to the request's connection and
// the transaction ends at once (no retransmissions, no state kept).
func TestShedStateless(t *testing.T) {
	s := testServer(t, func(o *Options) { o.MaxSetupCalls = 1 })
	s.inSetup.enter("other")
	tx := &connTx{captureTx: newCaptureTx(), conn: &captureConn{}}
	s.shedCall(parseReq(t, shedInvite), tx, 25)
	if tx.res != nil {
		t.Errorf("the 503 went through the transaction")
	}
	if len(tx.conn.sent) != 1 || tx.conn.sent[0].(*sip.Response).StatusCode != 503 {
		t.Fatalf("sent %v", tx.conn.sent)
	}
	if !tx.terminated {
		t.Error("transaction not terminated")
	}
}

// TestShedStatelessGuarded: the handlers' wrapped transaction still lets an
// admitted call's refusal go out statelessly.
func TestShedStatelessGuarded(t *testing.T) {
	s := testServer(t, func(o *Options) { o.MaxSetupCalls = 1 })
	s.inSetup.enter("other")
	inner := &connTx{captureTx: newCaptureTx(), conn: &captureConn{}}
	g := newGuardTx(inner)
	markAdmitted(g)
	s.shedCall(parseReq(t, shedInvite), g, 25)
	if inner.res != nil || len(inner.conn.sent) != 1 || !inner.terminated {
		t.Errorf("through the transaction %v, sent %d, terminated %v", inner.res, len(inner.conn.sent), inner.terminated)
	}
}
