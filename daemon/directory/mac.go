package directory

import (
	"fmt"
	"strings"
)

// NormalizeMAC accepts a MAC address in any common spelling
// (00:15:65:AA:BB:01, 00-15-65-aa-bb-01, 001565aabb01, 0015.65aa.bb01) and
// returns it lower-case and colon-separated ("00:15:65:aa:bb:01"). Multicast
// and all-zero addresses are rejected: no desk phone has one, so they are
// typos.
func NormalizeMAC(s string) (string, error) {
	hex, ok := macHex(strings.TrimSpace(s))
	if !ok {
		return "", fmt.Errorf("MAC address %q is not valid: want 12 hex digits such as 00:15:65:aa:bb:01", s)
	}
	var b strings.Builder
	b.Grow(17)
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteByte(lowerHex(hex[i]))
		b.WriteByte(lowerHex(hex[i+1]))
	}
	out := b.String()
	if out == "00:00:00:00:00:00" {
		return "", fmt.Errorf("MAC address %q is all zeros", s)
	}
	if hexVal(out[1])&1 == 1 {
		return "", fmt.Errorf("MAC address %q is a multicast address, not a phone's", s)
	}
	return out, nil
}

// macHex returns the 12 hex digits of s if s is one of the accepted
// spellings: six groups of two separated by one of ':' or '-', three groups
// of four separated by '.', or twelve digits in a row.
func macHex(s string) (string, bool) {
	switch len(s) {
	case 12:
		return s, allHex(s)
	case 14:
		return groups(s, '.', 4)
	case 17:
		if s[2] == ':' || s[2] == '-' {
			return groups(s, s[2], 2)
		}
	}
	return "", false
}

func groups(s string, sep byte, size int) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(s); i += size + 1 {
		g := s[i : i+size]
		if !allHex(g) || (i+size < len(s) && s[i+size] != sep) {
			return "", false
		}
		b.WriteString(g)
	}
	return b.String(), true
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if hexVal(s[i]) < 0 {
			return false
		}
	}
	return true
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

func lowerHex(c byte) byte {
	if c >= 'A' && c <= 'F' {
		return c + 'a' - 'A'
	}
	return c
}

// MACIn reports whether text (a User-Agent, a +sip.instance URN, a log
// field) names mac, in any of the spellings NormalizeMAC accepts and in any
// case, as a whole: "(001565aabb01)", "… 00:15:65:AA:BB:01",
// "urn:uuid:00000000-0000-1000-8000-001565aabb01" all name
// 00:15:65:aa:bb:01, but "0001565aabb01" or "00:15:65:aa:bb:01:02" do not.
// This is the one place that decides whether a phone's text names its MAC
// (provisioning's User-Agent check, check-sync targets, `deskgatectl
// phones`).
func MACIn(text, mac string) bool {
	norm, err := NormalizeMAC(mac)
	if err != nil || len(text) < 12 {
		return false
	}
	lower := strings.ToLower(text)
	hex := strings.ReplaceAll(norm, ":", "")
	spellings := [...]struct {
		s   string
		sep byte
	}{
		{hex, 0},
		{norm, ':'},
		{strings.ReplaceAll(norm, ":", "-"), '-'},
		{hex[0:4] + "." + hex[4:8] + "." + hex[8:12], '.'},
	}
	for _, sp := range spellings {
		for from := 0; from <= len(lower)-len(sp.s); {
			i := strings.Index(lower[from:], sp.s)
			if i < 0 {
				break
			}
			start, end := from+i, from+i+len(sp.s)
			if macBoundary(lower, start-1, sp.sep) && macBoundary(lower, end, sp.sep) {
				return true
			}
			from = start + 1
		}
	}
	return false
}

// macBoundary reports whether lower[i] (or the text's edge) ends a MAC
// written with separator sep (0 for none): no hex digit, and not the same
// separator, which would make the MAC part of a longer group.
func macBoundary(lower string, i int, sep byte) bool {
	if i < 0 || i >= len(lower) {
		return true
	}
	c := lower[i]
	return hexVal(c) < 0 && (sep == 0 || c != sep)
}
