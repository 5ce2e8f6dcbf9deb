package fork

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// target is where one leg's INVITE goes.
type target struct {
	branch ringplan.Branch // zero for trunk and fallback legs
	uri    sip.Uri         // Request-URI
	dest   string          // "host:port" to send to
	tp     string          // transport, upper case
	trunk  bool            // the trunk (a trunk or fallback leg)
	bad    error           // the branch cannot be built: it fails at once
	// fallback marks the no_answer / closed leg: its transport errors and
	// timeouts become 480 with a reason naming the target.
	fallback bool
}

// leg is one client transaction of the call.
type leg struct {
	target
	req  *sip.Request  // the INVITE as sent; read only once sent
	ct   legTx         // its client transaction, nil once ended
	res  *sip.Response // final response ≥300, kept for §16.7
	rang bool          // EventRinging emitted
	// cancel is the leg's CANCEL transaction, ended: once the INVITE has its
	// final response the CANCEL has done its job, and a retransmission of
	// it (its 200 late behind the 487) would reach a phone that already
	// finished the transaction. (The transaction rather than its end
	// method: a method value is an allocation per branch.)
	cancel *cancelTx
}

// legTx is a leg's client transaction: ours (*branchTx) or a requester
// hook's (sip.ClientTransaction).
type legTx interface{ Terminate() }

// legEvent is what a leg's transaction reports: a response, or res == nil
// when the transaction ended without a final response.
type legEvent struct {
	i   int
	res *sip.Response
	err error
}

// call is the state of one Execute.
type call struct {
	e       *Executor
	req     *sip.Request
	tx      sip.ServerTransaction
	log     *slog.Logger
	id      string
	agg     *aggregator
	legs    []*leg
	round1  []target
	rr      RecordRoute     // nil = sipgo's plain Record-Route
	timeout time.Duration   // ring timeout of the plan's branches
	timer   *time.Timer     // ring timeout of the current phase
	fbURI   string          // fallback or redirect URI, "" = none
	fbWhy   string          // reason phrase of a 480 once the fallback leg started
	upFrom  *sip.FromHeader // the caller's From as upstream responses carry it (callerFrom)
	out     Outcome
	ended   bool // EventEnded emitted

	events    chan legEvent
	quit      chan struct{} // closed when the loop ends: transactions stop posting
	cancelled *callerCancel
	hctx      context.Context // CANCEL and BYE: detached from ctx so they still go out
	hstop     context.CancelFunc
	watchers  sync.WaitGroup
	helpers   sync.WaitGroup
}

// newCall prepares the legs of plan; it fails only for ActionTrunk without
// a trunk (the caller answers 404: nothing goes anywhere).
func (e *Executor) newCall(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, plan ringplan.Plan) (*call, error) {
	c := &call{
		e: e, req: req, tx: tx, id: callID(req),
		timeout:   plan.Timeout,
		events:    make(chan legEvent, eventBuffer(len(plan.Branches))),
		quit:      make(chan struct{}),
		cancelled: &callerCancel{ch: make(chan struct{}, 1)},
	}
	c.log = e.log.With("call_id", c.id)
	switch plan.Action {
	case ringplan.ActionFork:
		// Sized at once: a target is large, and growing the slice to 25
		// by appending cost more than the 25 targets themselves.
		c.round1 = make([]target, 0, len(plan.Branches))
		for _, b := range plan.Branches {
			c.round1 = append(c.round1, branchTarget(b))
		}
		c.fbURI = plan.Fallback
		if c.timeout <= 0 {
			c.timeout = ringplan.DefaultRingTimeout
		}
	case ringplan.ActionRedirect:
		c.fbURI = plan.Redirect
	case ringplan.ActionTrunk:
		addr, tp, ok := e.trunk()
		if !ok {
			return nil, errors.New("no trunk")
		}
		c.round1 = append(c.round1, trunkTarget(plan.Number, addr, tp))
		if c.timeout <= 0 {
			c.timeout = e.maxRing
		}
	}
	delegates := make([]bool, len(c.round1))
	for i, t := range c.round1 {
		delegates[i] = t.branch.Delegate()
	}
	c.agg = newAggregator(delegates, c.fbURI != "")
	c.legs = make([]*leg, 0, len(c.round1)+1) // +1: a fallback leg
	c.hctx, c.hstop = context.WithCancel(context.WithoutCancel(ctx))
	return c, nil
}

// eventBuffer sizes a call's event queue so that no transaction waits for
// the call's loop in the common case: each leg posts a 100, a 180 and its
// final. A transaction that waits holds its lock meanwhile, so the leg's
// further responses and retransmission timer queue up behind it (with 25
// legs answering at once, a fixed 16-slot queue was where the mutex
// profile spent 90 % of its wait).
func eventBuffer(branches int) int { return 16 + 3*branches }

// branchTarget addresses a plan branch: its Contact URI as Request-URI,
// sent to the address the REGISTER came from (NAT-friendly), else to the
// Contact's host:port.
func branchTarget(b ringplan.Branch) target {
	t := target{branch: b, tp: transport(b.Contact.Transport)}
	err := sip.ParseUri(b.Contact.URI, &t.uri)
	if err == nil && t.uri.Host == "" {
		err = errors.New("no host")
	}
	if err != nil {
		t.bad = fmt.Errorf("parse contact %q: %w", b.Contact.URI, err)
		return t
	}
	t.dest = b.Contact.Source
	if t.dest == "" {
		t.dest = hostPort(t.uri, t.tp)
	}
	return t
}

// trunkTarget addresses the trunk: sip:number@trunk.
func trunkTarget(number, addr, tp string) target {
	t := target{tp: transport(tp), dest: withPort(addr, tp), trunk: true}
	host, port, _ := net.SplitHostPort(t.dest)
	t.uri = sip.Uri{Scheme: "sip", User: number, Host: host}
	t.uri.Port, _ = strconv.Atoi(port)
	if number == "" || host == "" {
		t.bad = fmt.Errorf("trunk target %q@%q", number, addr)
	}
	return t
}

// withPort adds the transport's default port to an address without one.
func withPort(addr, tp string) string {
	if _, _, err := net.SplitHostPort(addr); err == nil {
		return addr
	}
	return net.JoinHostPort(strings.Trim(addr, "[]"), strconv.Itoa(sip.DefaultPort(transport(tp))))
}

func hostPort(u sip.Uri, tp string) string {
	port := u.Port
	if port == 0 {
		port = sip.DefaultPort(tp)
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}

func transport(tp string) string {
	if tp == "" {
		return "UDP"
	}
	return strings.ToUpper(tp)
}

// run starts the legs and drives the aggregator until the call is settled.
func (c *call) run(ctx context.Context) (Outcome, error) {
	if !c.tx.OnCancel(c.cancelled.on) {
		c.cancelled.on(nil) // cancelled or gone before we looked
	}
	c.timer = time.NewTimer(c.timeout)
	defer c.timer.Stop()
	for _, t := range c.round1 {
		c.startLeg(t)
	}
	c.apply(-1, nil, c.agg.start())
	err := c.loop(ctx)
	c.cleanup(err != nil)
	if err == nil && !c.ended {
		err = fmt.Errorf("call %s: no final response sent", c.id)
	}
	return c.out, err
}

// callerCancel is what the server transaction's CANCEL hook reaches: not
// the call, which the server transaction (kept by sipgo after the final
// response) would otherwise keep alive with every leg's messages.
type callerCancel struct {
	ch     chan struct{} // the caller's CANCEL (buffered, 1)
	mu     sync.Mutex
	reason string // Reason header of the caller's CANCEL
}

// on runs inside sipgo's transaction lock: record and signal only.
func (cc *callerCancel) on(r *sip.Request) {
	if r != nil {
		if h := r.GetHeader("Reason"); h != nil {
			cc.mu.Lock()
			cc.reason = h.Value()
			cc.mu.Unlock()
		}
	}
	select {
	case cc.ch <- struct{}{}:
	default:
	}
}

func (cc *callerCancel) why() string {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.reason
}

// loop feeds the aggregator until every leg has ended after the final
// response, the linger bound passes, or ctx ends.
func (c *call) loop(ctx context.Context) error {
	var linger <-chan time.Time
	srvDone := c.tx.Done()
	for !c.agg.settled() {
		if c.agg.phase == phaseFinal && linger == nil {
			t := time.NewTimer(c.e.linger)
			defer t.Stop()
			linger = t.C
		}
		select { // the caller's CANCEL first: it decides a race with a 2xx
		case <-c.cancelled.ch:
			c.apply(-1, nil, c.agg.callerCancel())
			continue
		default:
		}
		select {
		case ev := <-c.events:
			c.onLegEvent(ev)
		case <-c.cancelled.ch:
			c.apply(-1, nil, c.agg.callerCancel())
		case <-c.timer.C:
			c.apply(-1, nil, c.agg.timeout())
		case <-srvDone:
			srvDone = nil // the server transaction died (transport error)
			c.apply(-1, nil, c.agg.callerCancel())
		case <-ctx.Done():
			c.apply(-1, nil, c.agg.abort(503))
			return fmt.Errorf("call %s: %w", c.id, ctx.Err())
		case <-linger:
			c.log.Info("branches still open after the final response; giving up on them", "linger", c.e.linger)
			return nil
		}
	}
	return nil
}

// onLegEvent turns a watcher's report into aggregator input.
func (c *call) onLegEvent(ev legEvent) {
	l := c.legs[ev.i]
	if ev.res == nil {
		status := 408
		if errors.Is(ev.err, sip.ErrTransactionTransport) {
			status = 503
		}
		if l.fallback { // unreachable or silent: 480 saying so (sendFinal)
			if status == 503 {
				c.fbWhy = "Cannot Reach " + l.dest
			}
			status = 480
		}
		c.log.Debug("branch ended without a final response", "contact", l.branch.Contact.URI, "error", ev.err)
		c.apply(ev.i, nil, c.agg.response(ev.i, status))
		c.branchEnded(ev.i)
		l.release()
		return
	}
	code := ev.res.StatusCode
	switch {
	case code < 200:
		v := c.agg.provisional(ev.i, code)
		if v.relay && !l.rang { // a leg being CANCELled does not count as ringing
			l.rang = true
			c.e.emit(Event{Kind: EventRinging, CallID: c.id, Branch: l.branch, Status: code, ToTag: toTag(ev.res)})
		}
		c.apply(ev.i, ev.res, v)
	case code < 300:
		c.apply(ev.i, ev.res, c.agg.response(ev.i, code))
	default:
		l.res = ev.res
		c.apply(ev.i, ev.res, c.agg.response(ev.i, code))
		c.branchEnded(ev.i)
		l.release()
	}
}

// release drops what an ended leg no longer needs while the call goes on
// ringing the others: its INVITE and transaction (the final response stays
// for §16.7). Nothing is sent on an ended leg.
func (l *leg) release() {
	l.req, l.ct = nil, nil
	if l.cancel != nil {
		l.cancel.end()
	}
}

// cleanup stops the watchers and waits for every goroutine of the call.
// Unfinished client transactions are terminated; helpers (BYE) and CANCEL
// transactions (cancel.go, no goroutine to wait for) finish on their own
// bound unless ctx ended.
func (c *call) cleanup(aborted bool) {
	close(c.quit)
	for i, l := range c.legs {
		if l.ct != nil && c.agg.legs[i].state < legAnswered {
			l.ct.Terminate()
		}
	}
	if aborted {
		c.hstop()
		for _, l := range c.legs { // their CANCELs too: nothing more goes out
			if l.cancel != nil {
				l.cancel.end()
			}
		}
	}
	c.watchers.Wait()
	c.helpers.Wait()
	c.hstop()
}
