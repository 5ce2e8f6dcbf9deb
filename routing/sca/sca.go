// Package sca owns shared call appearance state (BroadWorks SCA, the model
// of Kamailio's sca module): for each shared line (a department's or an
// executive's extension) a set of appearances numbered 1..N, each idle,
// seized, progressing, alerting, active, held or held-private, and the
// Call-Info header value that a call-info or line-seize NOTIFY carries.
//
// It is pure state: no SIP transport, no timers. Every method takes the
// time from its caller, and returns whether the line changed so the caller
// can NOTIFY the line's watchers. Appearance state lives with the calls: it
// is memory only, and a restart starts every line idle (the watchers are
// then told so).
//
// It must not import any other deskgate package.
package sca

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// State is an appearance state as the Call-Info appearance-state parameter
// names it.
type State string

const (
	Idle        State = "idle"
	Seized      State = "seized"
	Progressing State = "progressing"
	Alerting    State = "alerting"
	Active      State = "active"
	Held        State = "held"
	HeldPrivate State = "held-private"
)

// Limits.
const (
	// SeizeTTL is how long a seize with no INVITE after it holds an
	// appearance (BroadWorks and Kamailio's line_seize_max_expires: 15 s).
	SeizeTTL = 15 * time.Second
	// MaxAppearances bounds the appearances of one line: more calls at
	// once than this get no appearance (they still go through).
	MaxAppearances = 24
	// maxLines bounds the table against a flood of seizes.
	maxLines = 10000
)

// Errors of Seize.
var (
	ErrBusy    = errors.New("appearance in use")
	ErrNoIndex = errors.New("no such appearance")
	ErrFull    = errors.New("no free appearance")
)

// Appearance is one appearance of a line.
type Appearance struct {
	Index int
	State State
	// Remote is the other party as a name-addr (appearance-uri); "" for a
	// seize.
	Remote string
	// Owner is the user who seized or placed or answered the call.
	Owner string
	// CallID is the call on the appearance; "" for a seize.
	CallID string
	// LineTag and RemoteTag are the dialog tags of the line's side and the
	// far side (what a retrieve's Replaces names); RemoteTag is "" until
	// the call is answered.
	LineTag, RemoteTag string
	// Outgoing is set for calls placed from the line.
	Outgoing bool
	// Expires ends a seize that no INVITE followed.
	Expires time.Time
	// Peer is where the far party is, as a retrieve needs it.
	Peer Peer
	// replacing is the Call-ID of a retrieve in progress (INVITE with
	// Replaces naming this call) by retriever; when it is answered the
	// appearance moves to it.
	replacing, retriever string
}

// Peer locates a call's far party: a phone's Contact URI and the address
// and transport it is reached on, or the trunk (with the party's
// identity).
type Peer struct {
	URI, Source, Transport string
	Trunk                  bool
	Identity               string
}

// Table holds the appearances of every shared line, keyed by the line's
// extension. The zero value is not usable: call New.
type Table struct {
	mu    sync.Mutex
	lines map[string]map[int]*Appearance
}

// New returns an empty table.
func New() *Table { return &Table{lines: map[string]map[int]*Appearance{}} }

func (t *Table) line(ext string, create bool) map[int]*Appearance {
	l := t.lines[ext]
	if l == nil && create && len(t.lines) < maxLines {
		l = map[int]*Appearance{}
		t.lines[ext] = l
	}
	return l
}

func (t *Table) dropIfEmpty(ext string) {
	if len(t.lines[ext]) == 0 {
		delete(t.lines, ext)
	}
}

// free returns the lowest index with no appearance in use, or 0.
func free(l map[int]*Appearance) int {
	for i := 1; i <= MaxAppearances; i++ {
		if _, used := l[i]; !used {
			return i
		}
	}
	return 0
}

// Seize reserves appearance index of line ext for owner until now +
// SeizeTTL; index 0 takes the lowest free one. A seize of an appearance the
// same owner already holds seized renews it. It returns the index seized.
func (t *Table) Seize(ext string, index int, owner string, now time.Time) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if index < 0 || index > MaxAppearances {
		return 0, ErrNoIndex
	}
	l := t.line(ext, true)
	if l == nil {
		return 0, ErrFull
	}
	if index == 0 {
		if index = free(l); index == 0 {
			return 0, ErrFull
		}
	}
	if a, used := l[index]; used {
		if a.State != Seized || a.Owner != owner {
			return 0, ErrBusy
		}
	}
	l[index] = &Appearance{Index: index, State: Seized, Owner: owner, Expires: now.Add(SeizeTTL)}
	return index, nil
}

// Release frees a seize of owner on line ext (the phone unsubscribed from
// line-seize before calling out); false when there was none.
func (t *Table) Release(ext string, index int, owner string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.line(ext, false)
	a, ok := l[index]
	if !ok || a.State != Seized || a.Owner != owner {
		return false
	}
	delete(l, index)
	t.dropIfEmpty(ext)
	return true
}

// Seized returns the index of owner's seize on line ext, or 0.
func (t *Table) Seized(ext, owner string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return seizedBy(t.line(ext, false), owner)
}

func seizedBy(l map[int]*Appearance, owner string) int {
	best := 0
	for i, a := range l {
		if a.State == Seized && a.Owner == owner && (best == 0 || i < best) {
			best = i
		}
	}
	return best
}

// Expire releases every seize whose time is up and returns, per line, the
// indexes released (sorted by line, then index).
func (t *Table) Expire(now time.Time) []Released {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Released
	for ext, l := range t.lines {
		for i, a := range l {
			if a.State == Seized && !a.Expires.After(now) {
				delete(l, i)
				out = append(out, Released{Line: ext, Index: i, Owner: a.Owner})
			}
		}
		t.dropIfEmpty(ext)
	}
	slices.SortFunc(out, func(a, b Released) int {
		if c := strings.Compare(a.Line, b.Line); c != 0 {
			return c
		}
		return a.Index - b.Index
	})
	return out
}

// Released is a seize that expired.
type Released struct {
	Line  string
	Index int
	Owner string
}

// NextExpiry is the earliest seize expiry, zero when nothing is seized.
func (t *Table) NextExpiry() time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	var next time.Time
	for _, l := range t.lines {
		for _, a := range l {
			if a.State == Seized && (next.IsZero() || a.Expires.Before(next)) {
				next = a.Expires
			}
		}
	}
	return next
}

// Outgoing puts call callID, placed by owner as line ext to remote, on an
// appearance: owner's seize if any, else the lowest free one. lineTag is
// the caller's From tag. It returns the index, 0 when none was free.
func (t *Table) Outgoing(ext, owner, callID, lineTag, remote string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.line(ext, true)
	if l == nil || t.findLocked(callID) != nil {
		return 0
	}
	i := seizedBy(l, owner)
	if i == 0 {
		if i = free(l); i == 0 {
			return 0
		}
	}
	l[i] = &Appearance{Index: i, State: Progressing, Owner: owner, CallID: callID, LineTag: lineTag,
		Remote: remote, Outgoing: true}
	return i
}

// Incoming puts call callID from remote (whose From tag is callerTag) to
// line ext on the lowest free appearance, alerting. It returns the index,
// 0 when none was free.
func (t *Table) Incoming(ext, callID, callerTag, remote string, peer Peer) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.line(ext, true)
	if l == nil || t.findLocked(callID) != nil {
		return 0
	}
	i := free(l)
	if i == 0 {
		return 0
	}
	l[i] = &Appearance{Index: i, State: Alerting, CallID: callID, RemoteTag: callerTag, Remote: remote, Peer: peer}
	return i
}

// findLocked returns the appearance of a call (or of a retrieve of it).
func (t *Table) findLocked(callID string) *Appearance {
	if callID == "" {
		return nil
	}
	for _, l := range t.lines {
		for _, a := range l {
			if a.CallID == callID {
				return a
			}
		}
	}
	return nil
}

// where returns the line and appearance of a call.
func (t *Table) where(callID string) (string, *Appearance) {
	for ext, l := range t.lines {
		for _, a := range l {
			if a.CallID == callID {
				return ext, a
			}
		}
	}
	return "", nil
}

// Answered marks a call active; answeredBy is the user whose phone
// answered an incoming call ("" = keep), remoteTag the far side's tag
// (the To tag of an outgoing call's 200) and peer where an outgoing
// call's far side is. It returns the line, "" when nothing changed.
func (t *Table) Answered(callID, answeredBy, tag string, peer Peer) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ext, a := t.where(callID)
	if a == nil || a.State == Active {
		return ""
	}
	a.State = Active
	if answeredBy != "" {
		a.Owner = answeredBy
	}
	if a.Outgoing {
		a.RemoteTag, a.Peer = tag, peer
	} else if tag != "" {
		a.LineTag = tag
	}
	return ext
}

// Hold applies a re-INVITE of the line's side: media direction sendonly
// → held, inactive → held-private, anything else → active again. fromTag
// is the re-INVITE's From tag; a re-INVITE of the far side changes
// nothing (being held is not holding). It returns the line, "" when
// nothing changed.
func (t *Table) Hold(callID, fromTag, direction string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ext, a := t.where(callID)
	if a == nil || a.LineTag == "" || fromTag != a.LineTag {
		return ""
	}
	switch a.State {
	case Active, Held, HeldPrivate:
	default:
		return ""
	}
	next := Active
	switch direction {
	case "sendonly":
		next = Held
	case "inactive":
		next = HeldPrivate
	}
	if next == a.State {
		return ""
	}
	a.State = next
	return ext
}

// Ended frees a call's appearance at once (BYE, CANCEL, failure). A call
// that a retrieve replaced no longer owns the appearance and changes
// nothing. It returns the line, "" when nothing changed.
func (t *Table) Ended(callID string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ext, l := range t.lines {
		for i, a := range l {
			switch {
			case a.CallID == callID:
				delete(l, i)
				t.dropIfEmpty(ext)
				return ext
			case a.replacing == callID:
				a.replacing, a.retriever = "", "" // the retrieve failed: the call stays where it was
				return ""
			}
		}
	}
	return ""
}

// Call is a call on an appearance, as a retrieve needs it.
type Call struct {
	Line string
	Appearance
}

// ByCall returns the appearance holding a call.
func (t *Table) ByCall(callID string) (Call, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ext, a := t.where(callID)
	if a == nil {
		return Call{}, false
	}
	return Call{Line: ext, Appearance: *a}, true
}

// StartRetrieve notes that newCallID (an INVITE with Replaces from
// retriever) takes over the call on an appearance; false when the call is
// not held or active.
func (t *Table) StartRetrieve(callID, newCallID, retriever string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, a := t.where(callID)
	if a == nil || (a.State != Held && a.State != Active && a.State != HeldPrivate) {
		return false
	}
	a.replacing, a.retriever = newCallID, retriever
	return true
}

// Retrieved moves the appearance to the retrieving call once it is
// answered: active, owned by the retriever, with its dialog tags (the
// retriever's and the far party's). It returns the line, "" when no
// retrieve of that Call-ID was under way.
func (t *Table) Retrieved(newCallID, lineTag, remoteTag string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	for ext, l := range t.lines {
		for _, a := range l {
			if a.replacing == newCallID && newCallID != "" {
				a.replacing, a.CallID, a.State, a.Owner, a.retriever = "", newCallID, Active, a.retriever, ""
				a.LineTag, a.RemoteTag, a.Outgoing = lineTag, remoteTag, true
				return ext
			}
		}
	}
	return ""
}

// Appearances returns the appearances of line ext in use, by index.
func (t *Table) Appearances(ext string) []Appearance {
	t.mu.Lock()
	defer t.mu.Unlock()
	l := t.line(ext, false)
	out := make([]Appearance, 0, len(l))
	for _, a := range l {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b Appearance) int { return a.Index - b.Index })
	return out
}

// Lines lists the lines with an appearance in use.
func (t *Table) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.lines))
	for ext := range t.lines {
		out = append(out, ext)
	}
	slices.Sort(out)
	return out
}

// CallInfo renders the Call-Info header value of a call-info NOTIFY for
// the line whose address is lineURI (sip:ext@domain): every appearance in
// use, then appearance-index=* idle for the rest. appearance-uri names the
// far party of a call; a held-private call does not show it.
func CallInfo(lineURI string, apps []Appearance) string {
	var b strings.Builder
	for _, a := range apps {
		b.WriteString("<" + lineURI + ">;appearance-index=" + strconv.Itoa(a.Index) +
			";appearance-state=" + string(a.State))
		if a.Remote != "" && a.State != Seized && a.State != HeldPrivate {
			b.WriteString(`;appearance-uri="` + quote(a.Remote) + `"`)
		}
		b.WriteString(",")
	}
	b.WriteString("<" + lineURI + ">;appearance-index=*;appearance-state=idle")
	return b.String()
}

// SeizeInfo renders the Call-Info of a line-seize NOTIFY: the appearance
// the subscriber holds.
func SeizeInfo(lineURI string, index int) string {
	return "<" + lineURI + ">;appearance-index=" + strconv.Itoa(index) + ";appearance-state=seized"
}

// quote escapes a quoted-string's content (RFC 3261 §25.1).
func quote(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\r", "", "\n", "").Replace(s)
}

// ParseIndex reads the appearance-index parameter of a line-seize
// SUBSCRIBE's Call-Info header value; 0 (any free one) when absent or "*".
func ParseIndex(callInfo string) (int, bool) {
	for _, p := range strings.Split(callInfo, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		if !strings.EqualFold(strings.TrimSpace(k), "appearance-index") {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		if v == "*" {
			return 0, true
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxAppearances {
			return 0, false
		}
		return n, true
	}
	return 0, true
}

// Direction is the media direction of an SDP body: the first a=sendonly,
// a=recvonly, a=inactive or a=sendrecv line (session or media level),
// sendonly also for the RFC 2543 hold (c= 0.0.0.0). "" when none.
func Direction(sdp []byte) string {
	held := false
	for _, line := range strings.Split(string(sdp), "\n") {
		line = strings.TrimSpace(line)
		switch line {
		case "a=sendonly", "a=recvonly", "a=inactive", "a=sendrecv":
			return strings.TrimPrefix(line, "a=")
		}
		if strings.HasPrefix(line, "c=IN IP4 0.0.0.0") {
			held = true
		}
	}
	if held {
		return "sendonly"
	}
	return ""
}
