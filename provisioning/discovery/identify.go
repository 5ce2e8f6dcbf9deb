package discovery

import (
	"net/url"
	"strings"

	"deskgate/daemon/directory"
)

// sighting is what one mDNS answer or PnP SUBSCRIBE tells about a phone.
type sighting struct {
	MAC     string // normalised; "" = unknown, nothing is recorded
	Vendor  string // "yealink", "poly", ... or a cleaned unknown vendor
	Model   string // "<vendor>-<model>" as in the directory when known
	Address string // IP the phone was seen at
}

// vendorWords maps words phones use for their maker to the directory's
// vendor names, in match order ("polycom" before "poly"). "oem" (Snom's
// PnP default) and "" mean "not said".
func vendorWords() [7]struct{ word, vendor string } {
	return [...]struct{ word, vendor string }{
		{"yealink", "yealink"}, {"polycom", "poly"}, {"poly", "poly"}, {"snom", "snom"},
		{"grandstream", "grandstream"}, {"cisco", "cisco"}, {"fanvil", "fanvil"},
	}
}

// ouiVendor names the vendor an IEEE OUI ("00:15:65") is registered to,
// for the best known OUIs of the supported vendors only; "" otherwise. It
// names the vendor when the phone did not.
func ouiVendor(oui string) string {
	switch oui {
	case "00:15:65", "80:5e:c0":
		return "yealink"
	case "00:04:f2", "64:16:7f":
		return "poly"
	case "00:04:13":
		return "snom"
	case "00:0b:82":
		return "grandstream"
	case "0c:38:3e":
		return "fanvil"
	}
	return ""
}

// canonicalVendor maps a vendor string as phones send it ("Yealink",
// "Polycom", "Yealink Network Technology") to the directory's name, or a
// cleaned lower-case word for unknown makers; "" when nothing useful.
func canonicalVendor(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "oem" {
		return ""
	}
	if v := vendorOf(s); v != "" {
		return v
	}
	return cleanToken(s)
}

// identify turns the vendor and model strings a phone reports into the
// directory's names; the model alone can name the vendor ("snomD785").
func identify(vendorRaw, modelRaw string) (vendor, model string) {
	vendor = canonicalVendor(vendorRaw)
	if vendor == "" {
		vendor = vendorOf(strings.ToLower(modelRaw))
	}
	return vendor, canonicalModel(vendor, modelRaw)
}

// canonicalModel turns a model string as a phone reports it ("SIP-T54W",
// "snomD785", "VVX_450", "CP-8851-3PCC", "GRP2614") into the directory's
// "<vendor>-<model>" form. Unknown models keep a cleaned form so the admin
// still sees something recognisable; "" when there is nothing.
func canonicalModel(vendor, model string) string {
	m := strings.ToLower(strings.TrimSpace(model))
	if m == "" || m == "oem" {
		return ""
	}
	for _, p := range []string{"polycom", vendor, "sip-", "sip", "cp-"} {
		if p != "" {
			m = strings.TrimLeft(strings.TrimPrefix(m, p), " -_")
		}
	}
	m = strings.TrimSuffix(m, "-3pcc")
	dashed := strings.NewReplacer(" ", "-", "_", "-").Replace(m)
	bare := strings.NewReplacer(" ", "", "_", "", "-", "").Replace(m)
	if vendor == "" {
		return cleanToken(bare)
	}
	for _, c := range []string{dashed, bare} {
		if directory.KnownModel(vendor + "-" + c) {
			return vendor + "-" + c
		}
	}
	if bare == "" {
		return ""
	}
	return vendor + "-" + cleanToken(dashed)
}

// vendorOf finds a vendor word inside s ("snomd785" → "snom").
func vendorOf(s string) string {
	for _, w := range vendorWords() {
		if strings.Contains(s, w.word) {
			return w.vendor
		}
	}
	return ""
}

// cleanToken keeps [a-z0-9.-] so values stored in the inventory and shown
// by deskgatectl cannot carry control characters from the network.
func cleanToken(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		case r == ' ' || r == '_':
			b.WriteByte('-')
		}
		if b.Len() >= 64 {
			break
		}
	}
	return strings.Trim(b.String(), "-.")
}

// macFromUser extracts a MAC from a SIP URI user part as PnP phones send
// it: "MAC%3a00135E874B49" (Snom, Yealink, Gigaset: draft-ietf-sipping-
// config-framework's "MAC:" device id, escaped), "MAC=00304fa99948"
// (Planet), or the bare 12 hex digits.
func macFromUser(user string) (string, bool) {
	if u, err := url.PathUnescape(user); err == nil {
		user = u
	}
	user = strings.TrimSpace(user)
	if len(user) >= 4 && strings.EqualFold(user[:3], "mac") && (user[3] == ':' || user[3] == '=') {
		user = user[4:]
	} else if len(user) == 15 && strings.EqualFold(user[:3], "mac") {
		user = user[3:]
	}
	mac, err := directory.NormalizeMAC(user)
	return mac, err == nil
}

// macFromInstanceID reads the MAC from a "+sip.instance" value such as
// "<urn:uuid:00000000-0000-1000-8000-001565aabb01>": phones build a
// version-1 UUID whose node field (the last 12 hex digits) is their MAC.
func macFromInstanceID(v string) (string, bool) {
	v = strings.Trim(strings.TrimSpace(v), `"<>`)
	const prefix = "urn:uuid:"
	if len(v) != len(prefix)+36 || !strings.EqualFold(v[:len(prefix)], prefix) {
		return "", false
	}
	mac, err := directory.NormalizeMAC(v[len(v)-12:])
	return mac, err == nil
}

// macFromText finds a MAC written inside free text such as an mDNS instance
// name: "Yealink T54W 805EC0123456", "SEP001565AABB01",
// "snom D785 (00:04:13:aa:bb:cc)". Only a run of exactly 12 hex digits, or
// six colon/dash-separated pairs, counts, so longer hex ids do not match.
func macFromText(s string) (string, bool) {
	for i := 0; i < len(s); i++ {
		if i > 0 && isHex(s[i-1]) {
			continue // only start at a run boundary
		}
		if n := hexRun(s[i:]); n == 12 {
			if mac, err := directory.NormalizeMAC(s[i : i+12]); err == nil {
				return mac, true
			}
		} else if n == 2 && i+17 <= len(s) && !longerGroups(s, i, i+17) {
			if mac, err := directory.NormalizeMAC(s[i : i+17]); err == nil {
				return mac, true
			}
		}
	}
	return "", false
}

// longerGroups reports whether the separated groups s[from:to] continue on
// either side ("01:00:15:65:aa:bb:01" is not a MAC followed by junk).
func longerGroups(s string, from, to int) bool {
	sep := s[from+2]
	if to < len(s) && (isHex(s[to]) || (s[to] == sep && to+1 < len(s) && isHex(s[to+1]))) {
		return true
	}
	// preceded by another two-digit group and the separator
	return from >= 3 && s[from-1] == sep && isHex(s[from-2]) && isHex(s[from-3]) &&
		(from == 3 || !isHex(s[from-4]))
}

func hexRun(s string) int {
	n := 0
	for n < len(s) && isHex(s[n]) {
		n++
	}
	return n
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// complete fills what the phone did not say: vendor and model from the
// directory entry for its MAC, then the vendor from the MAC's OUI.
func (s sighting) complete(snap *directory.Snapshot) sighting {
	if s.MAC == "" {
		return s
	}
	if snap != nil {
		if p, ok := snap.Phone(s.MAC); ok {
			if s.Vendor == "" {
				s.Vendor = directory.Vendor(p.Model)
			}
			if s.Model == "" && (s.Vendor == "" || s.Vendor == directory.Vendor(p.Model)) {
				s.Model = p.Model
			}
		}
	}
	if s.Vendor == "" {
		s.Vendor = ouiVendor(s.MAC[:8])
	}
	return s
}
