package routing

import (
	"slices"
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
)

// Line appearances. Provisioning gives operators a SIP account per
// department they operate and assistants one per executive they actively
// assist (provisioning.Account: KeySharedLine, KeyExecutiveLine); each
// REGISTERs the department's or executive's extension, authenticated with
// the phone user's own credentials. The registrar accepts such a REGISTER
// from an operator of that department or an active assistant of that
// executive, and keeps the binding under its own key, appearancePrefix +
// the department's or executive's id, never under a user id: ringing
// (ringplan's State.Contacts), the caller ID policy and history look up
// user ids only, so a line appearance is never rung as such (department
// calls already ring the operators' own lines, executive calls the
// assistants' own lines). The line's state reaches the phone through
// shared call appearance (Event: call-info and line-seize, sharedline.go)
// or through BLF (Event: dialog to the line's extension, like any key).
// Appearances are listed by deskgatectl registrations under their key and
// survive restarts like every binding.

// appearancePrefix starts a line appearance's binding key. ':' never
// appears in a directory id, so a key cannot clash with a user.
const appearancePrefix = "appearance:"

// appearanceKey returns the binding key for a REGISTER of address of
// record to by the authenticated user, when that AOR is a department the
// user operates or an executive the user actively assists.
func appearanceKey(snap *directory.Snapshot, to *sip.ToHeader, user string) (string, bool) {
	if snap == nil || to == nil {
		return "", false
	}
	e, ok := snap.Lookup(to.Address.User)
	if !ok {
		return "", false
	}
	switch {
	case e.Kind == directory.KindDepartment && e.Department != nil:
		if slices.Contains(e.Department.Operators, user) {
			return appearancePrefix + e.Department.ID, true
		}
	case e.Kind == directory.KindUser && e.User != nil:
		for _, p := range snap.ExecutivesOf(user) {
			if p.Executive == e.User.ID && p.Active() {
				return appearancePrefix + e.User.ID, true
			}
		}
	}
	return "", false
}

// isAppearance reports whether a binding key is a line appearance's.
func isAppearance(key string) bool { return strings.HasPrefix(key, appearancePrefix) }
