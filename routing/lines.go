package routing

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"

	"deskgate/routing/events"
	"deskgate/routing/fork"
)

// BLF state: which calls each extension (user or department) is in, built
// from the calls we proxy (routing/fork's events and in-dialog BYEs), never
// from ringplan. It is display state like the calls list: a restart
// empties it, and calls in progress then show again from their next event
// only (BYE).

// lineLinger keeps an ended call so the NOTIFY reporting it shows it
// terminated; then it is forgotten (an idle extension has no dialogs).
const lineLinger = 5 * time.Second

// lineCall is one call as BLF watchers see it.
type lineCall struct {
	seq       uint64
	callID    string
	started   time.Time
	state     string // events.State*
	endEvent  string // terminated: events.End*, "" = unknown
	endCode   int
	ended     time.Time
	answered  time.Time
	callerExt []string // the caller's own extension and the one it called as
	targetExt string   // the dialled user or department; "" = outside
	caller    events.Participant
	callee    events.Participant
	fromTag   string
	toTag     string
	// Where the caller's INVITE came from: a directed pickup is sent
	// there (its Contact, reached like a binding) or to the trunk.
	callerSource, callerTransport string
	fromTrunk                     bool
	ringing                       map[string]int  // extension of a user rung as a branch → branches ringing
	rung                          map[string]bool // every such extension
	answerExt                     string          // extension of the user who answered, when not targetExt
}

// lineTable holds the calls in progress by Call-ID.
type lineTable struct {
	mu    sync.Mutex
	seq   uint64
	calls map[string]*lineCall
}

func newLineTable() *lineTable { return &lineTable{calls: map[string]*lineCall{}} }

// start records a new call (before any branch rings) and returns the
// extensions whose state changed.
func (t *lineTable) start(c lineCall, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.calls) >= maxCalls {
		return nil
	}
	t.seq++
	c.seq, c.started, c.state = t.seq, now, events.StateTrying
	c.ringing, c.rung = map[string]int{}, map[string]bool{}
	t.calls[c.callID] = &c
	return slices.Clone(c.callerExt)
}

// event applies a fork event; branchExt is the extension of the branch's
// user ("" for trunk legs). It returns the extensions whose state changed.
func (t *lineTable) event(ev fork.Event, branchExt string, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.calls[ev.CallID]
	if !ok || c.state == events.StateTerminated {
		return nil
	}
	other := branchExt != "" && branchExt != c.targetExt && !slices.Contains(c.callerExt, branchExt)
	state, toTag := c.state, c.toTag
	switch ev.Kind {
	case fork.EventRinging:
		if c.state == events.StateTrying {
			c.state = events.StateEarly
		}
		c.toTag = cmp.Or(c.toTag, ev.ToTag)
		if other {
			c.ringing[branchExt]++
			c.rung[branchExt] = true
		}
		// A department rings every operator: only the branch's own
		// extension changes, unless the call's state or tags did (then
		// every view does). Returning every extension here made a 25-way
		// fork schedule 25 × 25 notifications.
		if c.state == state && c.toTag == toTag {
			if other {
				return []string{branchExt}
			}
			return nil
		}
	case fork.EventAnswered:
		c.state, c.answered = events.StateConfirmed, now
		c.toTag = cmp.Or(ev.ToTag, c.toTag)
		if other {
			c.answerExt = branchExt
		}
		clear(c.ringing)
	case fork.EventBranchEnded:
		if other && c.ringing[branchExt] > 0 {
			c.ringing[branchExt]--
			return []string{branchExt} // its own view only
		}
		return nil
	case fork.EventEnded:
		if ev.Outcome.Result == fork.ResultAnswered {
			return nil // it goes on until the BYE
		}
		c.terminate(endEvent(ev.Outcome), ev.Status, now)
	}
	return c.exts()
}

// endEvent says why an unanswered call ended, in RFC 4235 terms.
func endEvent(o fork.Outcome) string {
	switch {
	case o.Cancelled:
		return events.EndCancelled
	case o.TimedOut:
		return events.EndTimeout
	case o.Status >= 400:
		return events.EndRejected
	}
	return ""
}

func (c *lineCall) terminate(event string, code int, now time.Time) {
	c.state, c.endEvent, c.ended = events.StateTerminated, event, now
	if code >= 100 && code <= 699 && event == events.EndRejected {
		c.endCode = code
	}
	clear(c.ringing)
}

// end records the end of a call (BYE, or an INVITE that ended without the
// executor's events) and returns the extensions whose state changed.
func (t *lineTable) end(callID, event string, now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.calls[callID]
	if !ok || c.state == events.StateTerminated {
		return nil
	}
	c.terminate(event, 0, now)
	return c.exts()
}

// exts lists every extension that shows the call.
func (c *lineCall) exts() []string {
	out := slices.Clone(c.callerExt)
	if c.targetExt != "" {
		out = append(out, c.targetExt)
	}
	for e := range c.rung {
		out = append(out, e)
	}
	if c.answerExt != "" {
		out = append(out, c.answerExt)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// sweep forgets calls that ended more than lineLinger ago, and answered
// calls whose BYE never came within answeredTTL.
func (t *lineTable) sweep(now time.Time) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	var changed []string
	for id, c := range t.calls {
		switch {
		case c.state == events.StateTerminated && now.Sub(c.ended) > lineLinger:
			delete(t.calls, id)
			changed = append(changed, c.exts()...) // the terminated dialog disappears
		case c.state != events.StateTerminated && now.Sub(c.started) > answeredTTL:
			delete(t.calls, id)
			changed = append(changed, c.exts()...)
		}
	}
	slices.Sort(changed)
	return slices.Compact(changed)
}

// ringingCall returns a copy of the call with this Call-ID if it is still
// ringing (for directed pickup).
func (t *lineTable) ringingCall(callID string) (lineCall, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	c, ok := t.calls[callID]
	if !ok || c.state != events.StateEarly {
		return lineCall{}, false
	}
	return *c, true
}

// dialogs renders the dialogs of extension ext, oldest call first. detail
// adds what only the line's own people may see: the other party's
// identity and the dialog identifiers a directed pickup needs.
func (t *lineTable) dialogs(ext, domain string, detail bool) []events.Dialog {
	t.mu.Lock()
	defer t.mu.Unlock()
	calls := make([]*lineCall, 0, len(t.calls))
	for _, c := range t.calls {
		calls = append(calls, c)
	}
	slices.SortFunc(calls, func(a, b *lineCall) int { return cmp.Compare(a.seq, b.seq) })
	var out []events.Dialog
	for _, c := range calls {
		d, ok := c.dialogFor(ext)
		if !ok {
			continue
		}
		d.ID = fmt.Sprintf("call-%d", c.seq)
		if d.State == events.StateTerminated {
			d.Event, d.Code = c.endEvent, c.endCode
		}
		if detail {
			d.CallID = c.callID
			d.Local = &events.Participant{Identity: "sip:" + ext + "@" + domain}
		} else {
			d.LocalTag, d.RemoteTag, d.Remote = "", "", nil
		}
		out = append(out, d)
	}
	return out
}

// dialogFor is the call as extension ext sees it; false when ext is not
// part of it (yet).
func (c *lineCall) dialogFor(ext string) (events.Dialog, bool) {
	caller, callee := c.caller, c.callee
	switch {
	case slices.Contains(c.callerExt, ext):
		return events.Dialog{Direction: events.Initiator, State: c.state,
			LocalTag: c.fromTag, RemoteTag: c.toTag, Remote: &callee}, true
	case ext == c.targetExt:
		if c.state == events.StateTrying {
			return events.Dialog{}, false // not ringing yet
		}
		return events.Dialog{Direction: events.Recipient, State: c.state,
			LocalTag: c.toTag, RemoteTag: c.fromTag, Remote: &caller}, true
	case c.rung[ext] || c.answerExt == ext:
		d := events.Dialog{Direction: events.Recipient, LocalTag: c.toTag, RemoteTag: c.fromTag, Remote: &caller}
		switch {
		case c.answerExt == ext:
			d.State = c.state
		case c.state == events.StateEarly && c.ringing[ext] > 0:
			d.State = events.StateEarly
		default:
			d.State = events.StateTerminated // answered elsewhere, or this branch ended
		}
		return d, true
	}
	return events.Dialog{}, false
}
