package ringplan

import (
	"fmt"
	"strconv"
	"strings"
)

// String names the kind ("user", "department", ...).
func (k TargetKind) String() string {
	switch k {
	case TargetUser:
		return "user"
	case TargetDepartment:
		return "department"
	case TargetFeature:
		return "feature"
	case TargetOutside:
		return "outside"
	}
	return "unknown"
}

// String names the action ("fork", "redirect", "reject", "trunk").
func (a Action) String() string {
	switch a {
	case ActionFork:
		return "fork"
	case ActionRedirect:
		return "redirect"
	case ActionReject:
		return "reject"
	case ActionTrunk:
		return "trunk"
	}
	return "action(" + strconv.Itoa(int(a)) + ")"
}

// String shows the plan on one line per branch, fields in a fixed order and
// empty fields left out, so table tests can compare it and logs can show it:
//
//	fork timeout=25s fallback=sip:vm@x why="user jsmith"
//	  branch user=jsmith contact=sip:1001@10.0.0.5 source=10.0.0.5:5060 transport=udp
func (p Plan) String() string {
	var b strings.Builder
	b.WriteString(p.Action.String())
	switch p.Action {
	case ActionReject:
		fmt.Fprintf(&b, " %d %q", p.Status, p.Reason)
	case ActionRedirect:
		b.WriteString(" " + p.Redirect)
	case ActionTrunk:
		b.WriteString(" number=" + p.Number)
	}
	if p.Timeout > 0 {
		b.WriteString(" timeout=" + p.Timeout.String())
	}
	if p.Fallback != "" {
		b.WriteString(" fallback=" + p.Fallback)
	}
	if p.Why != "" {
		fmt.Fprintf(&b, " why=%q", p.Why)
	}
	for _, br := range p.Branches {
		b.WriteString("\n  " + br.String())
	}
	return b.String()
}

// String shows one branch on one line.
func (br Branch) String() string {
	var b strings.Builder
	b.WriteString("branch user=" + br.User)
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + v)
		}
	}
	kv("contact", br.Contact.URI)
	kv("source", br.Contact.Source)
	kv("transport", br.Contact.Transport)
	kv("on_behalf_of", br.OnBehalfOf)
	if br.DisplayName != "" {
		fmt.Fprintf(&b, " display=%q", br.DisplayName)
	}
	if br.HistoryInfo != "" {
		fmt.Fprintf(&b, " history_info=%q", br.HistoryInfo)
	}
	return b.String()
}
