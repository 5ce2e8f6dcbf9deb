// Package ringplan owns the routing decision for one call: what the dialled
// Request-URI user is (Classify), which contacts ring with which header
// rewrites, for how long and where the call goes when nobody answers (Make),
// and which final response wins when every branch fails (PickFinal,
// RFC 3261 §16.7). It is pure: it imports daemon/directory and the standard
// library only, never sipgo, net, a clock or a store.
package ringplan

import (
	"time"

	"deskgate/daemon/directory"
)

// Limits and defaults applied by Make (the bound step).
const (
	// DefaultRingTimeout applies when a user or department has no
	// ring_timeout; 25 s is about five rings, long enough to reach a desk
	// and short enough that the caller does not hang up before voicemail.
	DefaultRingTimeout = 25 * time.Second
	// MaxRingTimeout caps a configured ring_timeout (RFC 3261 Timer C is
	// "greater than 3 minutes"; nobody wants a phone to ring longer).
	MaxRingTimeout = 5 * time.Minute
	// MaxBranches bounds one fork: 25 operators with a few devices each.
	MaxBranches = 64
)

// TargetKind says what a Request-URI user designates.
type TargetKind int

// Kinds of Target.
const (
	TargetUnknown TargetKind = iota
	TargetUser
	TargetDepartment
	TargetFeature
	TargetOutside
)

// Target is a classified Request-URI user. User or Department is set for
// those kinds; Number is the dialled string after normalisation (what an
// outside call sends to the trunk); Feature is the raw feature code.
type Target struct {
	Kind       TargetKind
	User       *directory.User
	Department *directory.Department
	Number     string
	Feature    string
}

// Contact is one live registration of a user.
type Contact struct {
	User      string
	URI       string // the Contact URI the phone registered
	Source    string // "ip:port" the REGISTER came from: send there (NAT)
	Transport string // "udp", "tcp", ...; "" = udp
}

// State is the live state Make consults. The registrar and presence serve
// it; tests use maps. Implementations must be safe for concurrent use and
// return slices the caller may keep.
type State interface {
	DND(user string) bool
	Away(user, department string) bool
	Contacts(user string) []Contact
}

// Call is what Make knows about the incoming INVITE.
type Call struct {
	Target        Target
	Caller        string // user id of the authenticated caller; "" = from the trunk
	CallerDisplay string // the caller's display name as presented
	CallerNumber  string // the caller's number or extension
	ViaDepartment string // set when the call reached Target through a department
	Domain        string // host for History-Info URIs (our SIP domain); "" = no History-Info
}

// Action says what the executor does with a Plan. The zero value is no
// action so a Plan that was never made is refused (500) instead of
// silently forking nothing.
type Action int

// Actions.
const (
	ActionFork     Action = iota + 1 // ring Branches at once
	ActionRedirect                   // send the call to Plan.Redirect
	ActionReject                     // answer Plan.Status / Plan.Reason
	ActionTrunk                      // send to the trunk, R-URI user = Plan.Number
)

// Branch is one contact to ring and the rewrites for its INVITE.
type Branch struct {
	Contact     Contact
	User        string // user whose phone this is
	DisplayName string // From display-name to present; "" = keep the caller's
	HistoryInfo string // History-Info header value; "" = none
	OnBehalfOf  string // executive this assistant branch rings for; "" = own call
}

// Delegate reports whether the branch rings on behalf of someone else (an
// assistant for an executive): its 6xx ends only this branch.
func (b Branch) Delegate() bool { return b.OnBehalfOf != "" }

// Plan is the complete decision for one call. It is a value: immutable
// once made, safe to log and to compare in tests.
type Plan struct {
	Action   Action
	Branches []Branch
	Timeout  time.Duration // ring timeout; 0 with ActionTrunk = executor default
	Fallback string        // URI when nobody answers, all fail or a 6xx; "" = best final or 480
	Redirect string        // ActionRedirect target URI
	Number   string        // ActionTrunk: Request-URI user to send to the trunk
	Status   int           // ActionReject status code
	Reason   string        // ActionReject reason phrase
	Why      string        // one line for logs: how Make got here
}
