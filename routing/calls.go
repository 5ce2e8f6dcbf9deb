package routing

import (
	"cmp"
	"slices"
	"sync"
	"time"
)

// Call states shown by deskgatectl calls.
const (
	CallRinging  = "ringing"
	CallAnswered = "answered"
)

// answeredTTL forgets an answered call whose BYE we never saw (it went
// around us, or was lost): the list is informational, routing never uses it.
const answeredTTL = 12 * time.Hour

// maxCalls bounds the table against a flood of INVITEs that never finish.
const maxCalls = 10000

// Call is a call in progress, for deskgatectl calls.
type Call struct {
	CallID   string    `json:"call_id"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	State    string    `json:"state"`
	Started  time.Time `json:"started"`
	Answered time.Time `json:"answered,omitzero"`
}

// callTable tracks calls from INVITE to BYE. It is display-only state: a
// restart empties it, and dialogs keep working without it.
type callTable struct {
	mu sync.Mutex
	m  map[string]Call
}

func newCallTable() *callTable { return &callTable{m: make(map[string]Call)} }

func (c *callTable) start(id, from, to string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxCalls {
		return
	}
	c.m[id] = Call{CallID: id, From: from, To: to, State: CallRinging, Started: now}
}

// finish records the end of the INVITE transaction: answered calls stay
// until their BYE, others are gone.
func (c *callTable) finish(id string, answered bool, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cl, ok := c.m[id]
	if !ok {
		return
	}
	if !answered {
		delete(c.m, id)
		return
	}
	cl.State, cl.Answered = CallAnswered, now
	c.m[id] = cl
}

// end forgets a call on its BYE.
func (c *callTable) end(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func (c *callTable) sweep(now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, cl := range c.m {
		if cl.State == CallAnswered && now.Sub(cl.Answered) > answeredTTL {
			delete(c.m, id)
		}
	}
}

func (c *callTable) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}

// list returns the calls oldest first.
func (c *callTable) list() []Call {
	c.mu.Lock()
	out := make([]Call, 0, len(c.m))
	for _, cl := range c.m {
		out = append(out, cl)
	}
	c.mu.Unlock()
	slices.SortFunc(out, func(a, b Call) int {
		return cmp.Or(a.Started.Compare(b.Started), cmp.Compare(a.CallID, b.CallID))
	})
	return out
}
