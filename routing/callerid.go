package routing

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
)

// allowCallerID reports whether the authenticated user caller may present
// the identity presented (an extension, E.164 number or user id) as caller
// ID. Today a phone may present only its own user; departments it operates
// and executives it assists are added here, in this one pure check.
func allowCallerID(snap *directory.Snapshot, caller, presented string) bool {
	if snap == nil || presented == "" {
		return false
	}
	u, ok := snap.User(caller)
	if !ok {
		return false
	}
	return identifies(u, presented)
}

// identifies reports whether s names the user: id, extension or one of its
// numbers (also dialled without the '+').
func identifies(u *directory.User, s string) bool {
	if s == u.ID || s == u.Extension {
		return true
	}
	for _, n := range u.Numbers {
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
// trusted: RFC 3325 §5) with our assertion: the user's E.164 number towards
// the trunk, the extension on local calls.
func setIdentity(fwd *sip.Request, snap *directory.Snapshot, caller, presented string, toTrunk bool, domain string) {
	removeHeaders(fwd, "P-Asserted-Identity")
	removeHeaders(fwd, "P-Preferred-Identity")
	u, ok := snap.User(caller)
	if !ok {
		return
	}
	id := u.Extension
	if toTrunk {
		id = assertedNumber(u, presented)
		if id == "" {
			return // no DID: the trunk decides what to show
		}
	}
	pai := sip.Uri{Scheme: "sip", User: id, Host: domain}
	name := sanitizeDisplay(u.Name)
	v := "<" + pai.String() + ">"
	if name != "" {
		v = `"` + name + `" ` + v
	}
	fwd.AppendHeader(sip.NewHeader("P-Asserted-Identity", v))
}

// assertedNumber is the E.164 number to assert for u: the one presented if
// it is theirs, else their first.
func assertedNumber(u *directory.User, presented string) string {
	for _, n := range u.Numbers {
		if presented == n || "+"+presented == n {
			return n
		}
	}
	if len(u.Numbers) > 0 {
		return u.Numbers[0]
	}
	return ""
}

// removeHeaders removes every header of that name, whatever its case
// (sipgo's RemoveHeader is case-sensitive, libs.md P5).
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

// removeHeader removes exactly this header value (by identity).
func removeHeader(req *sip.Request, h sip.Header) {
	var keep []sip.Header
	for _, x := range req.GetHeaders(h.Name()) {
		if x != h {
			keep = append(keep, x)
		}
	}
	removeHeaders(req, h.Name())
	for _, x := range keep {
		req.AppendHeader(x)
	}
}

// callerDisplay is the display name of an authenticated caller: what the
// phone put in From, else the directory name.
func callerDisplay(req *sip.Request, u *directory.User) string {
	if d := fromDisplay(req); d != "" {
		return d
	}
	return sanitizeDisplay(u.Name)
}

func fromDisplay(req *sip.Request) string {
	if f := req.From(); f != nil {
		return sanitizeDisplay(f.DisplayName)
	}
	return ""
}

func fromUser(req *sip.Request) string {
	if f := req.From(); f != nil {
		return f.Address.User
	}
	return ""
}

// sanitizeDisplay keeps a display name safe inside a quoted string.
func sanitizeDisplay(s string) string {
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
