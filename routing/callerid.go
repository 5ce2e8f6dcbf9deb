package routing

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/routing/ringplan"
)

// identity is who a call presents itself as: the caller's own user, a
// department the caller operates, or an executive the caller actively
// assists (docs/spec.md §4 "Caller ID on outbound calls").
type identity struct {
	user *directory.User       // the caller, or the executive; nil for a department
	dept *directory.Department // set when calling as a department
}

// onBehalfOf is the executive's or department's id when the identity is
// not the caller's own, else "".
func (id identity) onBehalfOf(caller string) string {
	switch {
	case id.dept != nil:
		return id.dept.ID
	case id.user != nil && id.user.ID != caller:
		return id.user.ID
	}
	return ""
}

func (id identity) name() string {
	if id.dept != nil {
		return ringplan.SanitizeDisplay(id.dept.Name)
	}
	return ringplan.SanitizeDisplay(id.user.Name)
}

func (id identity) extension() string {
	if id.dept != nil {
		return id.dept.Extension
	}
	return id.user.Extension
}

func (id identity) numbers() []string {
	if id.dept != nil {
		return id.dept.Numbers
	}
	return id.user.Numbers
}

// callerIdentity resolves what the authenticated user caller presents (an
// extension, E.164 number or id) against what the caller may present: its
// own user, then the departments it operates, then the executives it is an
// active assistant of. ok=false means the presentation is refused (403).
// The caller is always authenticated with its own credentials: presenting
// an executive never involves the executive's password.
func callerIdentity(snap *directory.Snapshot, caller, presented string) (identity, bool) {
	if snap == nil || presented == "" {
		return identity{}, false
	}
	u, ok := snap.User(caller)
	if !ok {
		return identity{}, false
	}
	if identifies(u.ID, u.Extension, u.Numbers, presented) {
		return identity{user: u}, true
	}
	for _, d := range snap.DepartmentsOf(caller) {
		if identifies(d.ID, d.Extension, d.Numbers, presented) {
			return identity{dept: d}, true
		}
	}
	for _, p := range snap.ExecutivesOf(caller) {
		if !p.Active() {
			continue
		}
		if e, ok := snap.User(p.Executive); ok && identifies(e.ID, e.Extension, e.Numbers, presented) {
			return identity{user: e}, true
		}
	}
	return identity{}, false
}

// allowCallerID reports whether the authenticated user caller may present
// the identity presented as caller ID.
func allowCallerID(snap *directory.Snapshot, caller, presented string) bool {
	_, ok := callerIdentity(snap, caller, presented)
	return ok
}

// identifies reports whether s names the entry with this id, extension and
// numbers (a number also dialled without the '+').
func identifies(id, ext string, numbers []string, s string) bool {
	if s == id || s == ext {
		return true
	}
	for _, n := range numbers {
		if s == n || "+"+s == n {
			return true
		}
	}
	return false
}

// presentedIdentity is the user part of what the phone asks to show:
// P-Preferred-Identity when present (RFC 3325), else the From URI.
func presentedIdentity(req *sip.Request) string {
	if h := req.GetHeader("P-Preferred-Identity"); h != nil {
		first, _, _ := strings.Cut(h.Value(), ",")
		var u sip.Uri
		if _, err := sip.ParseAddressValue(strings.TrimSpace(first), &u, nil); err != nil {
			return ""
		}
		return uriIdentity(u)
	}
	if f := req.From(); f != nil {
		return uriIdentity(f.Address)
	}
	return ""
}

// uriIdentity is a URI's user, or a tel: URI's number without parameters.
func uriIdentity(u sip.Uri) string {
	if strings.EqualFold(u.Scheme, "tel") {
		n, _, _ := strings.Cut(u.Raw(), ";")
		return n
	}
	return u.User
}

// setIdentity replaces whatever identity headers a phone sent (never
// trusted: RFC 3325 §5) with our assertion of the chosen identity: its
// E.164 number towards the trunk, its extension on local calls, with its
// name as display name.
func setIdentity(fwd *sip.Request, id identity, presented string, toTrunk bool, domain string) {
	removeHeaders(fwd, "P-Asserted-Identity")
	removeHeaders(fwd, "P-Preferred-Identity")
	if id.user == nil && id.dept == nil {
		return
	}
	num := id.extension()
	if toTrunk {
		num = assertedNumber(id.numbers(), presented)
		if num == "" {
			return // no DID: the trunk decides what to show
		}
	}
	pai := sip.Uri{Scheme: "sip", User: num, Host: domain}
	v := "<" + pai.String() + ">"
	if name := id.name(); name != "" {
		v = `"` + name + `" ` + v
	}
	fwd.AppendHeader(sip.NewHeader("P-Asserted-Identity", v))
}

// assertedNumber is the E.164 number to assert: the one presented if it is
// one of numbers, else the first.
func assertedNumber(numbers []string, presented string) string {
	for _, n := range numbers {
		if presented == n || "+"+presented == n {
			return n
		}
	}
	if len(numbers) > 0 {
		return numbers[0]
	}
	return ""
}

// removeHeaders removes every header of that name, whatever its case
// (sipgo's RemoveHeader is case-sensitive, docs/libraries.md P5).
func removeHeaders(m sip.Message, name string) {
	type remover interface{ RemoveHeader(string) bool }
	r, ok := m.(remover)
	if !ok {
		return
	}
	for _, h := range m.GetHeaders(name) {
		r.RemoveHeader(h.Name())
	}
}

// callerDisplay is the display name of an authenticated caller: what the
// phone put in From, else the chosen identity's directory name.
func callerDisplay(req *sip.Request, id identity) string {
	if d := fromDisplay(req); d != "" {
		return d
	}
	return id.name()
}

func fromDisplay(req *sip.Request) string {
	if f := req.From(); f != nil {
		return ringplan.SanitizeDisplay(f.DisplayName)
	}
	return ""
}

func fromUser(req *sip.Request) string {
	if f := req.From(); f != nil {
		return f.Address.User
	}
	return ""
}
