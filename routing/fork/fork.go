// Package fork owns the execution of a ringplan.Plan with sipgo: one client
// transaction per branch, relaying provisional and final responses to the
// caller, CANCELling the losers, the ring timeout, the fallback leg and the
// call events that feed history, BLF and the calls list. The decision what to
// ring lives in routing/ringplan; the §16.7 bookkeeping is the pure
// aggregator in this package. It must not import routing, daemon or any
// store: the caller hands it everything through Options and the Plan.
package fork

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// Defaults for Options.
const (
	DefaultMaxRing = 3 * time.Minute  // trunk and fallback legs (RFC 3261 Timer C)
	DefaultLinger  = 32 * time.Second // 64·T1: how long a silent branch may still answer
)

// Options are the Executor's dependencies.
type Options struct {
	// Client sends the branch INVITEs, CANCELs, ACKs and BYEs. It must be
	// built on the server's UA with sipgo.WithClientHostname and
	// sipgo.WithClientPort set to the advertised address: they become our
	// Via sent-by and Record-Route host, where phones send responses and
	// in-dialog requests. The UA's unhandled-response handler must pass
	// every response to Executor.HandleResponse first: branch INVITEs run
	// in transactions of the Executor's own (clienttx.go).
	Client *sipgo.Client
	Log    *slog.Logger // nil = slog.Default()
	// Laddr returns the listener address to send from for a transport
	// ("UDP", "TCP"); ok=false lets sipgo choose. Sending from the listener
	// keeps our Via port true and NAT bindings open (docs/libraries.md P3). nil = none.
	Laddr func(transport string) (addr sip.Addr, ok bool)
	// Trunk returns the trunk's "host:port" and transport; ok=false when no
	// trunk is configured. ActionTrunk goes there, and so do ActionRedirect
	// and the no-answer fallback when there is one (else they go to their
	// URI's host). nil = no trunk.
	Trunk func() (addr, transport string, ok bool)
	// Events, if set, is called from the call's goroutine for every call
	// event, in order. It must not block.
	Events func(Event)
	// MaxRing bounds trunk and fallback legs, which have no ring timeout of
	// their own. 0 = DefaultMaxRing.
	MaxRing time.Duration
	// Linger bounds how long Execute waits, after the final response went
	// upstream, for CANCELled or silent branches to end (a late 2xx is
	// ACKed and BYEd meanwhile). 0 = DefaultLinger.
	Linger time.Duration
	// Wait is how long the ACK of a branch's non-2xx final response is kept
	// (UDP) to answer retransmissions of that response: the client
	// transaction's Timer D. 0 = sip.Timer_D when New runs.
	Wait time.Duration
}

// Executor runs plans. It holds no per-call state: one Executor serves every
// call concurrently.
type Executor struct {
	cli     *sipgo.Client
	log     *slog.Logger
	laddr   func(string) (sip.Addr, bool)
	trunk   func() (string, string, bool)
	events  func(Event)
	maxRing time.Duration
	linger  time.Duration
	txs     txTable     // branch INVITE transactions (clienttx.go)
	cancels cancelTable // branch CANCEL transactions (cancel.go)
	// What released branch transactions left (retain.go): the ACKs of
	// non-2xx finals for Wait, and the 2xx records for Timer M (64·T1).
	completed, accepted *store
}

// New returns an Executor.
func New(opts Options) *Executor {
	e := &Executor{
		cli:     opts.Client,
		log:     opts.Log,
		laddr:   opts.Laddr,
		trunk:   opts.Trunk,
		events:  opts.Events,
		maxRing: opts.MaxRing,
		linger:  opts.Linger,
	}
	if e.log == nil {
		e.log = slog.Default()
	}
	e.log = e.log.With("component", "fork")
	if e.laddr == nil {
		e.laddr = func(string) (sip.Addr, bool) { return sip.Addr{}, false }
	}
	if e.trunk == nil {
		e.trunk = func() (string, string, bool) { return "", "", false }
	}
	if e.maxRing <= 0 {
		e.maxRing = DefaultMaxRing
	}
	if e.linger <= 0 {
		e.linger = DefaultLinger
	}
	wait := opts.Wait
	if wait <= 0 {
		wait = sip.Timer_D
	}
	e.completed = newStore(wait)
	e.accepted = newStore(sip.Timer_M)
	return e
}

// Call results, as the call history records them.
const (
	ResultAnswered = "answered"
	ResultMissed   = "missed"   // nobody answered: timeout, caller hung up, unavailable
	ResultDeclined = "declined" // the callee refused: busy or 6xx
	ResultFailed   = "failed"   // anything else (not found, errors)
)

// Outcome is what happened to the call.
type Outcome struct {
	Status    int             // final status sent upstream; 487 when the caller cancelled
	Result    string          // ResultAnswered, ResultMissed, ResultDeclined or ResultFailed
	Answered  ringplan.Branch // the branch that answered (User "" for a trunk or fallback leg)
	Fallback  string          // the URI the call was sent on to, "" = none
	Cancelled bool            // the caller hung up before an answer
	TimedOut  bool            // the ring timeout expired
}

// EventKind says what happened.
type EventKind int

// Kinds of Event.
const (
	EventRinging     EventKind = iota + 1 // a branch sent 180/183 (first one per branch)
	EventAnswered                         // a branch answered and its 2xx went upstream
	EventBranchEnded                      // a branch ended without connecting the call
	EventEnded                            // the INVITE transaction ended: see Outcome
)

// String names the kind.
func (k EventKind) String() string {
	switch k {
	case EventRinging:
		return "ringing"
	case EventAnswered:
		return "answered"
	case EventBranchEnded:
		return "branch_ended"
	case EventEnded:
		return "ended"
	}
	return fmt.Sprintf("event(%d)", int(k))
}

// Event is one call event. Branch is zero for EventEnded and for trunk
// and fallback legs; Status is the branch's status (EventEnded: upstream's).
type Event struct {
	Kind    EventKind
	Time    time.Time
	CallID  string
	Branch  ringplan.Branch
	Status  int
	Outcome Outcome // EventEnded only
	// ToTag is the branch response's To tag (EventRinging, EventAnswered):
	// the callee side's dialog tag, which BLF watchers need for a Replaces
	// header (directed pickup). "" when the response had none.
	ToTag string
}

// Leg is where one leg's INVITE goes, for a RecordRoute hook.
type Leg struct {
	Branch    ringplan.Branch // zero for trunk and fallback legs
	Dest      string          // "host:port" the INVITE is sent to
	Transport string          // "UDP" or "TCP"
	Trunk     bool            // the leg goes to the trunk
}

// RecordRoute returns the Record-Route entries to put on top of a leg's
// INVITE, top first, in place of sipgo's plain one: the proxy signs each
// leg's dialog with the peers on both sides.
type RecordRoute func(Leg) []*sip.RecordRouteHeader

// Execute carries out plan for the INVITE req received on tx. It blocks
// until a final response has been sent upstream (sipgo ends the server
// transaction when the handler returns) and every branch has ended, at most
// Options.Linger after that final response, and it never leaves a goroutine
// behind. The caller must already have authenticated the request, removed a
// Route naming us and set any P-Asserted-Identity; req may be such a
// prepared clone of tx's request as long as its Via, From, To, Call-ID,
// CSeq and source are unchanged (our own responses are built from it). The
// error is for the
// operator's log (invalid plan, response not sent, ctx ended); SIP outcomes
// are in Outcome. rr, if given, makes each leg's Record-Route (only the
// first is used); without it a leg gets sipgo's plain one.
func (e *Executor) Execute(ctx context.Context, req *sip.Request, tx sip.ServerTransaction, plan ringplan.Plan, rr ...RecordRoute) (Outcome, error) {
	switch plan.Action {
	case ringplan.ActionReject:
		return e.reject(req, tx, plan.Status, plan.Reason)
	case ringplan.ActionFork, ringplan.ActionRedirect, ringplan.ActionTrunk:
	default:
		out, err := e.reject(req, tx, 500, "")
		if err != nil {
			return out, err
		}
		return out, fmt.Errorf("execute plan %q: unknown action", plan.Action)
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 {
		return e.reject(req, tx, 483, "")
	}
	c, err := e.newCall(ctx, req, tx, plan)
	if err != nil {
		return e.reject(req, tx, 404, "")
	}
	if len(rr) > 0 {
		c.rr = rr[0]
	}
	return c.run(ctx)
}

// reject answers the INVITE with a final response of our own.
func (e *Executor) reject(req *sip.Request, tx sip.ServerTransaction, status int, reason string) (Outcome, error) {
	if status < 300 || status > 699 {
		status = 500
	}
	if reason == "" {
		reason = reasonPhrase(status)
	}
	out := Outcome{Status: status, Result: result(status, false)}
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	if err := tx.Respond(res); err != nil {
		return out, fmt.Errorf("respond %d: %w", status, err)
	}
	e.emit(Event{Kind: EventEnded, CallID: callID(req), Status: status, Outcome: out})
	return out, nil
}

func (e *Executor) emit(ev Event) {
	if e.events == nil {
		return
	}
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	e.events(ev)
}

// result maps the final status upstream to a history result.
func result(status int, timedOut bool) string {
	switch {
	case status >= 200 && status < 300:
		return ResultAnswered
	case timedOut, status == 408, status == 480, status == 487:
		return ResultMissed
	case status == 486, status == 600, status == 603:
		return ResultDeclined
	}
	return ResultFailed
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// reasonPhrase gives the standard phrase for the statuses we synthesise.
func reasonPhrase(status int) string {
	switch status {
	case 302:
		return "Moved Temporarily"
	case 404:
		return "Not Found"
	case 408:
		return "Request Timeout"
	case 480:
		return "Temporarily Unavailable"
	case 483:
		return "Too Many Hops"
	case 486:
		return "Busy Here"
	case 487:
		return "Request Terminated"
	case 500:
		return "Server Internal Error"
	case 503:
		return "Service Unavailable"
	case 603:
		return "Decline"
	}
	return "Error"
}

// toTag is a response's To tag, "" when it has none.
func toTag(res *sip.Response) string {
	if res == nil || res.To() == nil {
		return ""
	}
	t, _ := res.To().Params.Get("tag")
	return t
}
