package routing

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// Overload shedding for forks. Every branch of a call being forked holds a
// client transaction, a copy of the INVITE and a goroutine until it ends; a
// burst of department calls beyond what the box can serve would otherwise
// pile them up until responses come too late and memory runs out. Past the
// budget a new call is refused at once with 503 and Retry-After, which
// phones and trunks take as "try later", and the calls already ringing keep
// their share.
const (
	// DefaultMaxLiveBranches is the default budget: 80 25-way department
	// calls ringing at once, several times what a box serves at 50 calls/s.
	DefaultMaxLiveBranches = 2000
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

// shedCall refuses a call over the budget: 503 with Retry-After, and a
// warning at most every shedLogEvery with the count since the last one.
func (s *Server) shedCall(req *sip.Request, tx sip.ServerTransaction, cost int) {
	res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", strconv.Itoa(shedRetryAfter)))
	s.send(tx, res)
	b := s.branches
	now := s.now().UnixNano()
	last := b.lastLog.Load()
	if now-last < int64(shedLogEvery) || !b.lastLog.CompareAndSwap(last, now) {
		return
	}
	total := b.shed.Load()
	s.log.Warn("overloaded: calls refused with 503", "refused", total-b.logged.Swap(total),
		"live_branches", b.live.Load(), "max_live_branches", b.max, "call_id", callID(req), "branches", cost)
}
