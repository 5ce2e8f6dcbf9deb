// Package events owns the wire forms of the SIP event packages deskgate
// serves to desk phones: the Event and Subscription-State header values
// (RFC 6665), BroadSoft feature key synchronisation bodies
// (as-feature-event, ECMA-323 CSTA ed3 namespace), RFC 4235 dialog-info
// documents (BLF and away keys) and the check-sync re-provision event. It
// is pure: it imports the standard library only (no sipgo, no net, no
// clock, no deskgate package), so every body is a value tests can compare.
package events

import (
	"strconv"
	"strings"
)

// Event packages served or sent by the daemon.
const (
	PackageFeature   = "as-feature-event" // BroadSoft Device Feature Key Synchronization
	PackageDialog    = "dialog"           // RFC 4235
	PackageCheckSync = "check-sync"       // re-fetch the configuration
)

// CheckSync is the Event header value of the re-provision NOTIFY. Yealink
// (sip.notify_reboot_enable) and Poly (voIpProt.SIP.specialEvent.checkSync,
// with alwaysReboot="0") re-fetch their files without a reboot on
// reboot=false; phones that do not know the parameter ignore it.
const CheckSync = PackageCheckSync + ";reboot=false"

// maxEventLen bounds the Event header value we look at (outside input).
const maxEventLen = 256

// Event is a parsed Event header (RFC 6665 §8.2.1): the package, lower-cased,
// and the optional id parameter, which tells subscriptions in one dialog
// apart and must be echoed in every NOTIFY.
type Event struct {
	Package string
	ID      string
}

// ParseEvent reads an Event header value; ok is false when it names no
// package or is too long. Parameters other than id are ignored.
func ParseEvent(v string) (Event, bool) {
	v = strings.TrimSpace(v)
	if v == "" || len(v) > maxEventLen {
		return Event{}, false
	}
	parts := strings.Split(v, ";")
	pkg := strings.ToLower(strings.TrimSpace(parts[0]))
	if pkg == "" || !isToken(pkg) {
		return Event{}, false
	}
	ev := Event{Package: pkg}
	for _, p := range parts[1:] {
		name, val, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(name), "id") {
			ev.ID = strings.Trim(strings.TrimSpace(val), `"`)
			if !isToken(ev.ID) {
				return Event{}, false
			}
		}
	}
	return ev, true
}

// String is the header value to echo in NOTIFYs: the package and id.
func (e Event) String() string {
	if e.ID == "" {
		return e.Package
	}
	return e.Package + ";id=" + e.ID
}

// isToken reports whether s is an RFC 3261 token (empty is not).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("-.!%*_+`'~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// Reasons a subscription ends (RFC 6665 §4.1.3 / RFC 3265 §3.2.4).
const (
	ReasonTimeout    = "timeout"    // expired, or the subscriber unsubscribed
	ReasonNoResource = "noresource" // the watched resource is gone
	ReasonRejected   = "rejected"   // no longer allowed to watch it
	ReasonDeactivate = "deactivated"
)

// Active is the Subscription-State value of a live subscription with
// expires seconds left.
func Active(expires int) string {
	return "active;expires=" + strconv.Itoa(max(expires, 0))
}

// Terminated is the Subscription-State value of a subscription's last
// NOTIFY; reason may be empty.
func Terminated(reason string) string {
	if reason == "" {
		return "terminated"
	}
	return "terminated;reason=" + reason
}
