package ringplan

import (
	"strings"

	"deskgate/daemon/directory"
)

// maxDialLen bounds a dialled number: E.164 has at most 15 digits; the rest
// leaves room for access codes and national formats.
const maxDialLen = 32

// Classify resolves a Request-URI user (outside input, possibly
// percent-escaped) against the directory: an extension or number of a user
// or a department, a feature code (anything starting with '*': presence
// matches it against the configured codes), a dialable number that is not
// ours (Outside: digits with an optional leading '+', visual separators
// "-. ()" removed), or Unknown (empty or not dialable).
//
// A number is looked up as dialled, without visual separators, and with a
// '+' prepended when dialled without one, so "15551230001" reaches the DID
// "+15551230001".
func Classify(snap *directory.Snapshot, ruriUser string) Target {
	s := strings.TrimSpace(unescape(ruriUser))
	if s == "" || len(s) > 4*maxDialLen {
		return Target{Kind: TargetUnknown, Number: clip(s)}
	}
	if strings.HasPrefix(s, "*") {
		return Target{Kind: TargetFeature, Feature: s, Number: s}
	}
	if t, ok := lookup(snap, s); ok {
		return t
	}
	n, ok := dialable(s)
	if !ok {
		return Target{Kind: TargetUnknown, Number: s}
	}
	if n != s {
		if t, ok := lookup(snap, n); ok {
			return t
		}
	}
	if !strings.HasPrefix(n, "+") {
		if t, ok := lookup(snap, "+"+n); ok {
			return t
		}
	}
	return Target{Kind: TargetOutside, Number: n}
}

func lookup(snap *directory.Snapshot, key string) (Target, bool) {
	if snap == nil {
		return Target{}, false
	}
	e, ok := snap.Lookup(key)
	if !ok {
		return Target{}, false
	}
	switch {
	case e.Kind == directory.KindUser && e.User != nil:
		return Target{Kind: TargetUser, User: e.User, Number: key}, true
	case e.Kind == directory.KindDepartment && e.Department != nil:
		return Target{Kind: TargetDepartment, Department: e.Department, Number: key}, true
	}
	return Target{}, false
}

// dialable strips visual separators (RFC 3966) and reports whether what is
// left is an optional '+' followed by 1..maxDialLen digits.
func dialable(s string) (string, bool) {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == '+' && i == 0:
			b.WriteRune(r)
		case r == '-' || r == '.' || r == '(' || r == ')' || r == ' ':
		default:
			return "", false
		}
	}
	n := b.String()
	digits := strings.TrimPrefix(n, "+")
	if digits == "" || len(digits) > maxDialLen {
		return "", false
	}
	return n, true
}

// unescape decodes %XX escapes (a '+' often arrives as %2B); a malformed
// escape is kept as is, which then fails dialable.
func unescape(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				b.WriteByte(hi<<4 | lo)
				i += 2
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func clip(s string) string {
	if len(s) > maxDialLen {
		return s[:maxDialLen]
	}
	return s
}
