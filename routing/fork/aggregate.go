package fork

import "deskgate/routing/ringplan"

// legState is where one branch's client transaction is.
type legState int

const (
	legCalling    legState = iota // INVITE sent, nothing heard: no CANCEL yet (RFC 3261 §9.1)
	legProceeding                 // a 1xx arrived: CANCEL allowed
	legAnswered                   // a 2xx arrived
	legFailed                     // a final ≥300, or the transaction ended without one
)

// phase is where the call as a whole is.
type phase int

const (
	phaseRinging  phase = iota // the plan's branches ring
	phaseFallback              // nobody answered: the fallback leg is being set up or rings
	phaseFinal                 // a final response went upstream, or the caller cancelled
)

// cancelWhy says why a branch is CANCELled; the executor turns it into a
// Reason header (RFC 3326).
type cancelWhy int

const (
	whyNone     cancelWhy = iota
	whyAnswered           // another branch answered: "Call completed elsewhere"
	whyCaller             // the caller cancelled: copy the caller's Reason or none
	whyTimeout            // ring timeout: no Reason, the phone logs a missed call
	whyDeclined           // a 6xx elsewhere
)

type aggLeg struct {
	state     legState
	status    int  // final status as received (0 = none yet)
	eff       int  // status used for §16.7 (a delegate's 6xx counts as 480)
	delegate  bool // rings on behalf of someone else: its 6xx ends only itself
	fallback  bool // the fallback leg, not a plan branch
	cancel    cancelWhy
	cancelled bool // CANCEL sent
}

// aggregator is the response-aggregation state machine of one forked
// INVITE (RFC 3261 §16.7), free of I/O so every race can be table-tested.
// The executor feeds it what happens and carries out the verdicts. It is
// not safe for concurrent use: the executor's loop owns it.
type aggregator struct {
	legs        []aggLeg
	phase       phase
	hasFallback bool // the plan names a fallback for the ringing phase
	timedOut    bool
	callerGone  bool
	final       int // status sent upstream (487 if the caller cancelled), 0 = none yet
}

// verdict is what the executor must do after one input.
type verdict struct {
	relay    bool  // relay the response just received upstream
	answered bool  // ...and it is the winning 2xx
	ackBye   bool  // the 2xx just received lost: ACK and BYE it ourselves
	cancel   []int // send CANCEL to these legs now
	final    int   // send this final upstream: leg from's response, or synthesised when from < 0
	from     int
	fallback bool // start the fallback leg (addFallback) or answer a redirect (finish)
}

func none() verdict { return verdict{from: -1} }

// newAggregator tracks the plan's branches; delegates[i] marks branch i as
// ringing on behalf of someone else.
func newAggregator(delegates []bool, hasFallback bool) *aggregator {
	a := &aggregator{hasFallback: hasFallback, legs: make([]aggLeg, 0, len(delegates)+1)} // +1: a fallback leg
	for _, d := range delegates {
		a.legs = append(a.legs, aggLeg{delegate: d})
	}
	return a
}

// start settles a ringing phase that has nothing left to wait for: no
// branches at all (a redirect) or every INVITE failed to go out.
func (a *aggregator) start() verdict { return a.roundOver() }

// addFallback adds the fallback leg; it rings alone from now on.
func (a *aggregator) addFallback() int {
	a.legs = append(a.legs, aggLeg{fallback: true})
	a.phase = phaseFallback
	return len(a.legs) - 1
}

// finish records a final response the executor sent on its own (a 480
// when the fallback cannot be used, or an error).
func (a *aggregator) finish(status int) {
	a.phase = phaseFinal
	a.final = status
}

// current reports whether leg i belongs to the phase that is ringing.
func (a *aggregator) current(i int) bool {
	switch a.phase {
	case phaseRinging:
		return !a.legs[i].fallback
	case phaseFallback:
		return a.legs[i].fallback
	}
	return false
}

// provisional handles a 1xx from leg i: relay it (not 100) while its phase
// rings, or send a CANCEL that had to wait for it.
func (a *aggregator) provisional(i, status int) verdict {
	v := none()
	l := &a.legs[i]
	if l.state != legCalling && l.state != legProceeding {
		return v
	}
	l.state = legProceeding
	if l.cancel != whyNone {
		if !l.cancelled {
			l.cancelled = true
			v.cancel = []int{i}
		}
		return v
	}
	v.relay = status > 100 && a.current(i)
	return v
}

// response handles a final response (or a synthesised one: 408 for a
// transaction timeout, 503 for a transport error) from leg i.
func (a *aggregator) response(i, status int) verdict {
	l := &a.legs[i]
	if l.state == legAnswered || l.state == legFailed {
		return none()
	}
	l.status, l.eff = status, status
	if status < 300 {
		l.state = legAnswered
		if a.phase == phaseFinal {
			return verdict{from: -1, ackBye: true}
		}
		// Any answer before the final wins, even a branch CANCELled at the
		// ring timeout: the caller would rather reach a person than the
		// fallback, which is then CANCELled too.
		a.phase, a.final = phaseFinal, status
		return verdict{from: -1, relay: true, answered: true, cancel: a.cancelAll(whyAnswered)}
	}
	l.state = legFailed
	if l.delegate && status >= 600 {
		l.eff = 480 // an assistant declining ends only the assistant's branch
	}
	if !a.current(i) {
		return none()
	}
	if a.phase == phaseFallback {
		a.phase, a.final = phaseFinal, ringplan.PickFinal([]int{status})
		return verdict{from: i, final: a.final}
	}
	if l.eff >= 600 {
		c := a.cancelAll(whyDeclined)
		if a.hasFallback {
			a.phase = phaseFallback
			return verdict{from: -1, cancel: c, fallback: true}
		}
		a.phase, a.final = phaseFinal, status
		return verdict{from: i, final: status, cancel: c}
	}
	return a.roundOver()
}

// roundOver decides the ringing phase once every plan branch failed.
func (a *aggregator) roundOver() verdict {
	if a.phase != phaseRinging {
		return none()
	}
	var effs []int
	for _, l := range a.legs {
		if l.fallback {
			continue
		}
		if l.state != legFailed {
			return none()
		}
		effs = append(effs, l.eff)
	}
	if a.hasFallback {
		a.phase = phaseFallback
		return verdict{from: -1, fallback: true}
	}
	best := ringplan.PickFinal(effs)
	if len(effs) == 0 {
		best = 480 // a fork with nobody to ring
	}
	a.phase, a.final = phaseFinal, best
	v := verdict{from: -1, final: best}
	for i, l := range a.legs {
		if !l.fallback && l.eff == best && l.status == best {
			v.from = i
			break
		}
	}
	return v
}

// timeout handles the ring timer of the current phase: CANCEL what rings;
// the ringing phase goes to the fallback, or ends with 480.
func (a *aggregator) timeout() verdict {
	switch a.phase {
	case phaseRinging:
		a.timedOut = true
		c := a.cancelAll(whyTimeout)
		if a.hasFallback {
			a.phase = phaseFallback
			return verdict{from: -1, cancel: c, fallback: true}
		}
		a.phase, a.final = phaseFinal, 480
		return verdict{from: -1, cancel: c, final: 480}
	case phaseFallback:
		c := a.cancelAll(whyTimeout)
		a.phase, a.final = phaseFinal, 480
		return verdict{from: -1, cancel: c, final: 480}
	}
	return none()
}

// callerCancel handles the caller's CANCEL (sipgo already answered it 200
// and the INVITE 487): CANCEL every leg still ringing.
func (a *aggregator) callerCancel() verdict {
	if a.phase == phaseFinal {
		return none()
	}
	a.callerGone = true
	a.phase, a.final = phaseFinal, 487
	return verdict{from: -1, cancel: a.cancelAll(whyCaller)}
}

// answerLost records that the winning 2xx could not go upstream because
// the caller's CANCEL got there first: the call ends as cancelled.
func (a *aggregator) answerLost() {
	a.callerGone, a.final = true, 487
	for i := range a.legs {
		if a.legs[i].cancel == whyAnswered {
			a.legs[i].cancel = whyCaller // nobody answered from the caller's side
		}
	}
}

// abort ends the call with status (shutdown): CANCEL every leg still
// ringing and send status upstream unless a final already went.
func (a *aggregator) abort(status int) verdict {
	if a.phase == phaseFinal {
		return none()
	}
	a.phase, a.final = phaseFinal, status
	return verdict{from: -1, final: status, cancel: a.cancelAll(whyTimeout)}
}

// cancelAll marks every unfinished leg for CANCEL and returns those that
// may be CANCELled now; silent ones are CANCELled on their first 1xx.
func (a *aggregator) cancelAll(why cancelWhy) []int {
	var now []int
	for i := range a.legs {
		l := &a.legs[i]
		if l.state == legAnswered || l.state == legFailed || l.cancel != whyNone {
			continue
		}
		l.cancel = why
		if l.state == legProceeding {
			l.cancelled = true
			now = append(now, i)
		}
	}
	return now
}

// settled reports whether the call is over for the executor: a final
// response went upstream and every leg has ended.
func (a *aggregator) settled() bool {
	if a.phase != phaseFinal {
		return false
	}
	for _, l := range a.legs {
		if l.state != legAnswered && l.state != legFailed {
			return false
		}
	}
	return true
}
