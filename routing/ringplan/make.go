package ringplan

import (
	"fmt"
	"strings"
	"time"

	"deskgate/daemon/directory"
)

// role is why a person is rung.
type role int

const (
	roleSelf      role = iota // the dialled user
	roleAssistant             // an active assistant of the dialled user
	roleOperator              // an operator of the dialled department
)

// candidate is a person Make considers ringing.
type candidate struct {
	user     *directory.User
	role     role
	exec     *directory.User // roleAssistant: the executive rung for
	contacts []Contact
}

// Make decides how to route one call. It runs fixed steps, each a small
// function with its own rules:
//
//	gate     target kind and schedule: reject, trunk, closed → Plan.Redirect
//	expand   who could ring: the user and active assistants (unless the call
//	         came via a department), or a department's operators
//	filter   drop people in DND, away from the department, or unregistered
//	decorate one branch per contact, with the "Caller for Exec" display
//	         name and History-Info on assistant branches
//	bound    dedupe, cap, ring timeout, fallback; nobody left → fallback at
//	         once, else 480
//
// snap and st are read only; now is the time the call arrived.
func Make(snap *directory.Snapshot, st State, call Call, now time.Time) Plan {
	if p, done := gate(snap, call, now); done {
		return p
	}
	cands := expand(snap, call)
	cands, skipped := filter(st, call, cands)
	branches := decorate(call, cands)
	return bound(call, branches, skipped)
}

// gate settles every call that rings nobody here: unknown targets, feature
// codes, outside numbers and closed hours.
func gate(snap *directory.Snapshot, call Call, now time.Time) (Plan, bool) {
	t := call.Target
	switch t.Kind {
	case TargetUser:
		if t.User == nil {
			return reject(404, "target user missing"), true
		}
		if snap != nil && !snap.ScheduleOpen(t.User.Schedule, now) {
			return closed(t.User.Closed, "user "+t.User.ID), true
		}
		return Plan{}, false
	case TargetDepartment:
		if t.Department == nil {
			return reject(404, "target department missing"), true
		}
		if snap != nil && !snap.ScheduleOpen(t.Department.Schedule, now) {
			return closed(t.Department.Closed, "department "+t.Department.ID), true
		}
		return Plan{}, false
	case TargetOutside:
		if call.Caller == "" {
			// From the trunk to a number that is not ours: never hand it
			// back out (no toll fraud, no trunk loops).
			return reject(404, "outside number "+t.Number+" from the trunk"), true
		}
		return Plan{Action: ActionTrunk, Number: t.Number, Why: "outside number " + t.Number}, true
	case TargetFeature:
		return reject(404, "feature code "+t.Feature+" reached the proxy"), true
	default:
		return reject(404, fmt.Sprintf("unknown target %q", t.Number)), true
	}
}

func closed(uri, who string) Plan {
	if uri == "" {
		return Plan{Action: ActionReject, Status: 480, Reason: reasonPhrase(480),
			Why: who + ": closed hours, no closed destination"}
	}
	return Plan{Action: ActionRedirect, Redirect: uri, Why: who + ": closed hours"}
}

func reject(status int, why string) Plan {
	return Plan{Action: ActionReject, Status: status, Reason: reasonPhrase(status), Why: why}
}

// expand lists the people who could ring, in a stable order: the user
// before assistants (pairing order), operators in department order. The
// caller is never rung as an assistant or operator of their own call.
func expand(snap *directory.Snapshot, call Call) []candidate {
	t := call.Target
	var out []candidate
	seen := map[string]bool{}
	add := func(c candidate) {
		if c.user == nil || seen[c.user.ID] {
			return
		}
		seen[c.user.ID] = true
		out = append(out, c)
	}
	switch t.Kind {
	case TargetUser:
		add(candidate{user: t.User, role: roleSelf})
		if call.ViaDepartment != "" || snap == nil {
			break
		}
		for _, p := range snap.AssistantsOf(t.User.ID) {
			a, ok := snap.User(p.Assistant)
			if ok && a.ID != call.Caller {
				add(candidate{user: a, role: roleAssistant, exec: t.User})
			}
		}
	case TargetDepartment:
		if snap == nil {
			break
		}
		for _, id := range t.Department.Operators {
			op, ok := snap.User(id)
			if ok && op.ID != call.Caller {
				add(candidate{user: op, role: roleOperator})
			}
		}
	}
	return out
}

// filter drops people who must not ring and attaches each survivor's
// contacts. DND silences a person's own phones whatever their role (an
// executive in DND still reaches their assistants, who are separate
// candidates); away applies to department calls only. skipped lists
// "user (why)" for the Plan's Why.
func filter(st State, call Call, cands []candidate) (kept []candidate, skipped []string) {
	dept := ""
	if call.Target.Kind == TargetDepartment && call.Target.Department != nil {
		dept = call.Target.Department.ID
	}
	for _, c := range cands {
		id := c.user.ID
		switch {
		case st == nil:
			skipped = append(skipped, id+" (no state)")
		case st.DND(id):
			skipped = append(skipped, id+" (dnd)")
		case dept != "" && st.Away(id, dept):
			skipped = append(skipped, id+" (away)")
		default:
			c.contacts = st.Contacts(id)
			if len(c.contacts) == 0 {
				skipped = append(skipped, id+" (unregistered)")
				continue
			}
			kept = append(kept, c)
		}
	}
	return kept, skipped
}

// decorate turns people into branches, one per contact, with the header
// rewrites their role asks for.
func decorate(call Call, cands []candidate) []Branch {
	var out []Branch
	for _, c := range cands {
		for _, ct := range c.contacts {
			b := Branch{Contact: ct, User: c.user.ID}
			if c.role == roleAssistant {
				b.OnBehalfOf = c.exec.ID
				b.DisplayName = assistantDisplay(call, c.exec)
				b.HistoryInfo = historyInfo(call.Domain, c.exec, c.user)
			}
			out = append(out, b)
		}
	}
	return out
}

// assistantDisplay is the From display-name on an assistant's phone:
// "Alice Caller for John Smith".
func assistantDisplay(call Call, exec *directory.User) string {
	who := SanitizeDisplay(call.CallerDisplay)
	if who == "" {
		who = SanitizeDisplay(call.CallerNumber)
	}
	if who == "" {
		who = "Unknown"
	}
	name := SanitizeDisplay(exec.Name)
	if name == "" {
		name = exec.Extension
	}
	return who + " for " + name
}

// historyInfo names the executive as the original target (index 1) and the
// assistant as the target it was mapped to (RFC 7044 index 1.1, mp=1).
func historyInfo(domain string, exec, asst *directory.User) string {
	if domain == "" || strings.ContainsAny(domain, "<>\",; \t\r\n") {
		return ""
	}
	return fmt.Sprintf("<sip:%s@%s>;index=1,<sip:%s@%s>;index=1.1;mp=1",
		exec.Extension, domain, asst.Extension, domain)
}

// SanitizeDisplay keeps a display name safe inside a quoted string: no
// quotes, backslashes or control characters, bounded length.
func SanitizeDisplay(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 64 {
		s = string(r[:64])
	}
	return s
}

// bound finishes a fork: duplicates removed (first wins: own phones before
// assistants), at most MaxBranches, the ring timeout and the fallback.
func bound(call Call, branches []Branch, skipped []string) Plan {
	timeout, fallback, who := limits(call.Target)
	why := who
	if len(skipped) > 0 {
		why += "; skipped " + strings.Join(skipped, ", ")
	}
	out := make([]Branch, 0, min(len(branches), MaxBranches))
	seen := make(map[string]bool, len(branches))
	for _, b := range branches {
		k := b.Contact.URI + "|" + b.Contact.Source
		if seen[k] || len(out) == MaxBranches {
			continue
		}
		seen[k] = true
		out = append(out, b)
	}
	if len(out) == 0 {
		if fallback != "" {
			return Plan{Action: ActionRedirect, Redirect: fallback, Why: why + "; nobody reachable"}
		}
		return Plan{Action: ActionReject, Status: 480, Reason: reasonPhrase(480), Why: why + "; nobody reachable"}
	}
	return Plan{Action: ActionFork, Branches: out, Timeout: timeout, Fallback: fallback, Why: why}
}

// limits returns the ring timeout, the no-answer fallback and a name for
// logs of the target.
func limits(t Target) (time.Duration, string, string) {
	var d time.Duration
	var fallback, who string
	switch {
	case t.Kind == TargetUser && t.User != nil:
		d, fallback, who = t.User.RingTimeout.D(), t.User.NoAnswer, "user "+t.User.ID
	case t.Kind == TargetDepartment && t.Department != nil:
		d, fallback, who = t.Department.RingTimeout.D(), t.Department.NoAnswer, "department "+t.Department.ID
	}
	switch {
	case d <= 0:
		d = DefaultRingTimeout
	case d > MaxRingTimeout:
		d = MaxRingTimeout
	}
	return d, fallback, who
}
