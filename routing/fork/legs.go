package fork

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// legSetup bounds creating a leg's connection (a TCP dial to a phone).
const legSetup = 4 * time.Second

// startLeg sends one INVITE and starts its watcher. A leg that cannot be
// sent fails at once with a synthesised 503 (RFC 3261 §16.7: transport
// error).
func (c *call) startLeg(t target) {
	i := len(c.legs)
	l := &leg{target: t}
	c.legs = append(c.legs, l)
	err := t.bad
	if err == nil {
		var rr []*sip.RecordRouteHeader
		if c.rr != nil {
			rr = c.rr(Leg{Branch: t.branch, Dest: t.dest, Transport: t.tp, Trunk: t.trunk})
		}
		l.req = c.branchRequest(t, rr)
		// Only a dial needs the bound (UDP has none): the context's timer
		// cost 4 allocations per branch.
		ctx, cancel := c.hctx, context.CancelFunc(noop)
		if sip.IsReliable(t.tp) || c.e.cli.TxRequester != nil {
			ctx, cancel = context.WithTimeout(c.hctx, legSetup)
		}
		err = sipgo.ClientRequestAddVia(c.e.cli, l.req)
		if err == nil && c.rr == nil {
			err = sipgo.ClientRequestAddRecordRoute(c.e.cli, l.req)
		}
		if err == nil {
			err = c.sendInvite(ctx, i, l)
		}
		cancel()
	}
	if err != nil {
		c.log.Warn("branch not sent", "user", t.branch.User, "contact", t.branch.Contact.URI, "error", err)
		l.ct = nil
		status := 503
		if t.fallback {
			c.fbWhy, status = "Cannot Reach "+t.dest, 480
		}
		c.apply(i, nil, c.agg.response(i, status))
		c.branchEnded(i)
	}
}

// sendInvite starts leg i's client transaction: ours (clienttx.go), which
// hands its responses straight to the call, or, when the client has a
// requester hook of its own (sipgo's, for custom transaction handling),
// the hook's, with a watcher goroutine that reads it.
func (c *call) sendInvite(ctx context.Context, i int, l *leg) error {
	if c.e.cli.TxRequester == nil {
		tx, err := c.e.inviteTransaction(ctx, l.req, func(res *sip.Response, err error) {
			c.post(legEvent{i: i, res: res, err: err})
		})
		if err != nil {
			return err
		}
		l.ct = tx
		return nil
	}
	ct, err := c.e.cli.TxRequester.Request(ctx, l.req)
	if err != nil {
		return fmt.Errorf("request hook: %w", err)
	}
	l.ct = ct
	c.watchers.Add(1)
	go c.watch(i, ct)
	return nil
}

// branchRequest builds the leg's INVITE from the caller's (docs/libraries.md §1.6):
// a copy per leg with a new Request-URI and destination, Max-Forwards
// decremented without touching the shared header (P2), sent from our
// listener (P3) on the leg's transport (P6), with the branch's rewrites.
// Every header is cloned (sipgo's transport rewrites our Via and a branch
// may rewrite From), but unlike Request.Clone the copy skips what it
// replaces at once (Request-URI, Max-Forwards, a History-Info) and shares
// the body, which nothing writes to: 25 branches cost 25 headers sets, not
// 25 bodies. rr (top first) goes on top, appended before the rest rather
// than prepended after it (sipgo's PrependHeader copies the whole list).
func (c *call) branchRequest(t target, rr []*sip.RecordRouteHeader) *sip.Request {
	fwd := sip.NewRequest(c.req.Method, *t.uri.Clone())
	fwd.SipVersion = c.req.SipVersion
	for _, h := range rr {
		fwd.AppendHeader(h)
	}
	hi := t.branch.HistoryInfo
	if hi != "" && !safeHeader(hi) {
		hi = ""
	}
	mf := sip.MaxForwardsHeader(70)
	if h := c.req.MaxForwards(); h != nil {
		mf = sip.MaxForwardsHeader(h.Val() - 1)
	}
	hasMF := false
	for _, h := range c.req.Headers() {
		switch {
		case strings.EqualFold(h.Name(), "Max-Forwards"):
			if !hasMF { // in its place
				fwd.AppendHeader(&mf)
			}
			hasMF = true
		case hi != "" && strings.EqualFold(h.Name(), "History-Info"):
			// ours restarts the indexes at 1
		default:
			fwd.AppendHeader(sip.HeaderClone(h))
		}
	}
	if !hasMF {
		fwd.AppendHeader(&mf)
	}
	if hi != "" {
		fwd.AppendHeader(sip.NewHeader("History-Info", hi))
	}
	fwd.SetBody(c.req.Body())
	fwd.SetTransport(t.tp)
	fwd.SetSource(c.req.Source())
	fwd.SetDestination(t.dest)
	if a, ok := c.e.laddr(t.tp); ok {
		fwd.Laddr = a
	}
	if name := safeDisplay(t.branch.DisplayName); name != "" {
		if from := fwd.From(); from != nil {
			from.DisplayName = name // a clone of the caller's
		}
	}
	return fwd
}

// watch reports the responses of a requester hook's transaction until
// its final one, or its end.
func (c *call) watch(i int, ct sip.ClientTransaction) {
	defer c.watchers.Done()
	for {
		select {
		case res := <-ct.Responses():
			if !c.post(legEvent{i: i, res: res}) || res.StatusCode >= 200 {
				return
			}
		case <-ct.Done():
			c.post(legEvent{i: i, err: ct.Err()})
			return
		}
	}
}

func (c *call) post(ev legEvent) bool {
	select {
	case c.events <- ev:
		return true
	case <-c.quit:
		return false
	}
}

// apply carries out a verdict; i and res are the leg and response that
// caused it (-1 and nil for timers and the caller).
func (c *call) apply(i int, res *sip.Response, v verdict) {
	if v.answered {
		c.answer(i, res)
	} else if v.relay && res != nil {
		if err := c.tx.Respond(c.upstream(res)); err != nil {
			c.log.Debug("provisional not relayed", "status", res.StatusCode, "error", err)
		}
	}
	for _, j := range v.cancel {
		c.sendCancel(j)
	}
	if v.ackBye {
		c.ackBye(i, res)
	}
	if v.final != 0 {
		c.sendFinal(v.final, v.from)
	}
	if v.fallback {
		c.startFallback()
	}
	if c.agg.phase == phaseFinal && c.agg.callerGone {
		c.decided()
	}
}

// answer relays the winning 2xx. If the caller is already gone (its CANCEL
// won the race inside sipgo) the 2xx cannot go up: ACK and BYE it.
func (c *call) answer(i int, res *sip.Response) {
	l := c.legs[i]
	if err := c.tx.Respond(c.upstream(res)); err != nil {
		c.log.Info("answer not relayed, caller gone", "user", l.branch.User, "error", err)
		c.agg.answerLost()
		c.ackBye(i, res)
		c.decided()
		return
	}
	c.retain(res, record{up: &upstreamTo{from: c.callerFrom(), dest: c.req.Source(), transport: c.req.Transport()}})
	c.out.Answered = l.branch
	c.e.emit(Event{Kind: EventAnswered, CallID: c.id, Branch: l.branch, Status: res.StatusCode, ToTag: toTag(res)})
	c.decided()
}

// upstream turns a branch response into the caller's: our Via popped,
// the caller's own From back in place of a branch's rewrite (the
// assistant's "caller for executive" display name belongs to that branch
// only; RFC 3261 §8.2.6.2, §16.7) and sent where sipgo sends its own
// responses (the request's source, P1). It shares the branch response's
// headers and body rather than cloning them (26 relays per 25-way call):
// res was parsed for us alone and nothing writes to a received response's
// headers; the copy only adds and drops headers of its own list
// (mergeChallenges), which leaves res's list alone. The caller's From is
// the call's one copy (callerFrom): the caller's INVITE is sipgo's too.
func (c *call) upstream(res *sip.Response) *sip.Response {
	o := sip.NewResponse(res.StatusCode, res.Reason)
	o.SipVersion = res.SipVersion
	from := c.callerFrom()
	popped := false
	for _, h := range res.Headers() {
		switch {
		case !popped && strings.EqualFold(h.Name(), "Via"):
			popped = true // ours
		case from != nil && strings.EqualFold(h.Name(), "From"):
			o.AppendHeader(from)
		default:
			o.AppendHeader(h)
		}
	}
	o.SetBody(res.Body())
	o.SetTransport(c.req.Transport())
	o.SetDestination(c.req.Source())
	return o
}

// retain keeps rec for the Accepted state of the branch transaction res
// answers (RFC 6026: 64·T1), which was released at its 2xx (clienttx.go).
func (c *call) retain(res *sip.Response, rec record) {
	key, err := sip.ClientTxKeyMake(res)
	if err != nil {
		return
	}
	if !c.e.accepted.put(key, rec) {
		c.log.Debug("2xx record not kept: table full")
	}
}

// callerFrom is a copy of the caller's From for upstream responses, made
// once per call: the responses only read it (upstream).
func (c *call) callerFrom() *sip.FromHeader {
	if c.upFrom != nil {
		return c.upFrom
	}
	f := c.req.From()
	if f == nil {
		return nil
	}
	c.upFrom, _ = sip.HeaderClone(f).(*sip.FromHeader)
	return c.upFrom
}

func noop() {}

// keep is a client request option that changes nothing: the request is
// complete and must be sent as built.
func keep(*sipgo.Client, *sip.Request) error { return nil }
