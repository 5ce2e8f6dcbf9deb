package routing

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/fork"
	"deskgate/routing/ringplan"
)

// Overload shedding for forks, two bounds:
//   - live branches (memory): every branch of a call being forked holds its
//     client transaction and its copy of the INVITE until it ends;
//   - calls in set-up (latency): admitted, but no 18x or final response
//     relayed to the caller yet. On a box that keeps up this is a handful
//     (phones ring within milliseconds); when calls arrive faster than the
//     CPU forks them it grows, every call's ring gets later and callers
//     retransmit, which costs more still.
//
// Past either bound a new call is refused at once with 503 and Retry-After,
// which phones and trunks take as "try later", and the calls already in
// keep their share.
const (
	// DefaultMaxLiveBranches is the default budget: 160 25-way or 80
	// 50-way department calls ringing at once. 2000 refused 50-way calls
	// at 50 calls/s when the box hiccuped (branches wait for their 487s
	// and ACKs), as 1000 did 25-way ones.
	DefaultMaxLiveBranches = 4000
	// DefaultMaxSetupCalls is the default bound on calls in set-up.
	DefaultMaxSetupCalls = 32
	// shedRetryAfter is the Retry-After of the 503, in seconds.
	shedRetryAfter = 2
	// shedLogEvery bounds the warning to one line per interval.
	shedLogEvery = 10 * time.Second
)

// branchBudget counts the branches of calls being forked.
type branchBudget struct {
	max     int64
	live    atomic.Int64
	shed    atomic.Uint64 // calls refused, for the log
	logged  atomic.Uint64 // shed count at the last warning
	lastLog atomic.Int64  // unix nanoseconds of the last warning
}

func newBranchBudget(max int) *branchBudget {
	if max <= 0 {
		max = DefaultMaxLiveBranches
	}
	return &branchBudget{max: int64(max)}
}

// take reserves n branches. A call alone is always admitted, however many
// branches it has, so a plan larger than the budget still rings when idle.
func (b *branchBudget) take(n int) bool {
	if n <= 0 {
		return true
	}
	after := b.live.Add(int64(n))
	if after > b.max && after != int64(n) {
		b.live.Add(-int64(n))
		b.shed.Add(1)
		return false
	}
	return true
}

// give returns what take reserved.
func (b *branchBudget) give(n int) {
	if n > 0 {
		b.live.Add(-int64(n))
	}
}

// setupGate counts calls in set-up by Call-ID.
type setupGate struct {
	max int
	mu  sync.Mutex
	ids map[string]int // Call-ID -> calls in set-up with it (a re-forked call can repeat one)
	n   int
}

func newSetupGate(max int) *setupGate {
	if max <= 0 {
		max = DefaultMaxSetupCalls
	}
	return &setupGate{max: max, ids: make(map[string]int)}
}

// enter admits a call into set-up unless max calls are there already.
func (g *setupGate) enter(callID string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.n >= g.max {
		return false
	}
	g.n++
	g.ids[callID]++
	return true
}

// leave ends the set-up of a call with callID, if one is in set-up; safe
// to call again for the same call (the first ringing, the answer, the end
// and Execute's return all call it).
func (g *setupGate) leave(callID string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	k, ok := g.ids[callID]
	if !ok {
		return
	}
	if k <= 1 {
		delete(g.ids, callID)
	} else {
		g.ids[callID] = k - 1
	}
	g.n--
}

// count is the number of calls in set-up.
func (g *setupGate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// progress ends a call's set-up on its first ringing, answer or end.
func (g *setupGate) progress(ev fork.Event) {
	switch ev.Kind {
	case fork.EventRinging, fork.EventAnswered, fork.EventEnded:
		g.leave(ev.CallID)
	}
}

// branchCost is how many branches executing plan holds at most at once:
// its fork branches, or the one trunk or redirect leg. Rejections cost
// nothing.
func branchCost(plan ringplan.Plan) int {
	switch plan.Action {
	case ringplan.ActionFork:
		return max(len(plan.Branches), 1) // the fallback leg follows the branches
	case ringplan.ActionTrunk, ringplan.ActionRedirect:
		return 1
	}
	return 0
}

// admitCall takes the call's place in set-up and its branches; false once
// it has refused the call. The returned release gives both back.
func (s *Server) admitCall(req *sip.Request, tx sip.ServerTransaction, cost int) (release func(), ok bool) {
	id := callID(req)
	if cost == 0 {
		return func() {}, true // a rejection: nothing is forked
	}
	if !s.inSetup.enter(id) {
		s.branches.shed.Add(1)
		s.shedCall(req, tx, cost)
		return nil, false
	}
	if !s.branches.take(cost) {
		s.inSetup.leave(id)
		s.shedCall(req, tx, cost)
		return nil, false
	}
	return func() { s.inSetup.leave(id); s.branches.give(cost) }, true
}

// shedCall refuses a call over a bound: 503 with Retry-After, and a
// warning at most every shedLogEvery with the count since the last one.
func (s *Server) shedCall(req *sip.Request, tx sip.ServerTransaction, cost int) {
	res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(shedRetryAfter)))
	respondStateless(s, tx, res)
	b := s.branches
	now := s.now().UnixNano()
	last := b.lastLog.Load()
	if now-last < int64(shedLogEvery) || !b.lastLog.CompareAndSwap(last, now) {
		return
	}
	total := b.shed.Load()
	s.log.Warn("overloaded: calls refused with 503", "refused", total-b.logged.Swap(total),
		"live_branches", b.live.Load(), "max_live_branches", b.max, "calls_in_setup", s.inSetup.count(),
		"max_calls_in_setup", s.inSetup.max, "call_id", callID(req), "branches", cost)
}

// respondStateless sends a final response on the request's connection and
// ends the transaction at once: under overload a refusal must leave nothing
// behind (through the transaction, a 503 to an INVITE is retransmitted until
// the caller's ACK and its transaction stays for Timer H). The caller's ACK
// then arrives as a stray request and is dropped; a retransmitted INVITE is
// answered afresh (RFC 3261 §8.2.7). Without the connection (a wrapped
// transaction) the response goes through the transaction.
func respondStateless(s *Server, tx sip.ServerTransaction, res *sip.Response) {
	c, ok := tx.(interface{ Connection() sip.Connection })
	if !ok || c.Connection() == nil {
		s.send(tx, res)
		return
	}
	if err := c.Connection().WriteMsg(res); err != nil {
		s.log.Debug("send response", "status", res.StatusCode, "call_id", callIDOf(res), "error", err)
	}
	tx.Terminate()
}
