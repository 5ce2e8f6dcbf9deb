package provisioning

import (
	"strings"

	"deskgate/daemon/directory"
)

// fileKind is the family of a requested file name. Several vendors share a
// family (Yealink, Poly and Fanvil all ask for <mac>.cfg); the phone's model
// in the directory decides which renderer answers.
type fileKind int

const (
	kindUnknown fileKind = iota

	// Named after one phone's MAC.
	kindMACCfg         // <mac>.cfg: Yealink and Fanvil phone file, Poly per-phone master file
	kindMACBoot        // <mac>.boot: Yealink per-phone boot file
	kindPolyConfig     // <mac>-deskgate.cfg: Poly configuration file listed by the master file
	kindGrandstreamCfg // cfg<mac>.xml or cfg<mac>: Grandstream
	kindSnomCfg        // snom<model>-<MAC>.htm or .xml: Snom
	kindMACXML         // <mac>.xml or spa<mac>.xml: Cisco MPP ($MA.xml profile rule)

	// Model-wide: no MAC in the name, never any secret inside.
	kindYealinkCommon  // y000000000XXX.cfg
	kindPolyCommon     // 000000000000.cfg
	kindCiscoBootstrap // <model>-3PCC.xml: a factory-default Cisco MPP's /$PSN.xml profile rule
)

// perPhone reports whether files of kind are named after one phone's MAC.
func (k fileKind) perPhone() bool { return k >= kindMACCfg && k <= kindMACXML }

// commonVendor is the vendor a model-wide file belongs to.
func (k fileKind) commonVendor() string {
	switch k {
	case kindYealinkCommon:
		return "yealink"
	case kindPolyCommon:
		return "poly"
	case kindCiscoBootstrap:
		return "cisco"
	}
	return ""
}

// fileRequest is a parsed provisioning request path.
type fileRequest struct {
	Name  string   // the file name as requested, without the leading '/'
	Kind  fileKind // never kindUnknown when parsePath reports ok
	MAC   string   // normalised MAC for per-phone files, "" for model-wide ones
	Model string   // model named in the path (Snom), lower case
}

// maxNameLen bounds a file name; no provisioning file name comes close.
const maxNameLen = 64

// parsePath parses a request path at the server root ("/0015656aabb01.cfg")
// into the file it names. Anything else (sub-directories, dot segments,
// unusual characters, names no vendor uses) is not ok; the caller answers
// 404 exactly as for an unknown MAC.
func parsePath(p string) (fileRequest, bool) {
	name, ok := strings.CutPrefix(p, "/")
	if !ok || name == "" || len(name) > maxNameLen || !safeName(name) {
		return fileRequest{}, false
	}
	lower := strings.ToLower(name)
	if lower == "000000000000.cfg" {
		return fileRequest{Name: name, Kind: kindPolyCommon}, true
	}
	if isYealinkCommon(lower) {
		return fileRequest{Name: name, Kind: kindYealinkCommon}, true
	}
	if m, ok := ciscoPSN(lower); ok {
		return fileRequest{Name: name, Kind: kindCiscoBootstrap, Model: m}, true
	}
	kind, hex, model := splitMACName(lower)
	if kind == kindUnknown {
		return fileRequest{}, false
	}
	mac, err := directory.NormalizeMAC(hex)
	if err != nil {
		return fileRequest{}, false
	}
	return fileRequest{Name: name, Kind: kind, MAC: mac, Model: model}, true
}

// safeName reports whether s is made only of letters, digits, '.', '-' and
// '_' and is not a dot segment.
func safeName(s string) bool {
	if s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isYealinkCommon matches y000000000XXX.cfg: 'y' and twelve digits, the
// model-wide file of Yealink's auto-provisioning (XX is a model code).
func isYealinkCommon(s string) bool {
	base, ok := strings.CutSuffix(s, ".cfg")
	if !ok || len(base) != 13 || base[0] != 'y' {
		return false
	}
	for i := 1; i < len(base); i++ {
		if base[i] < '0' || base[i] > '9' {
			return false
		}
	}
	return true
}

// ciscoPSN matches "<4 digits>-3pcc.xml", the $PSN.xml a factory-default
// Cisco MPP asks for (e.g. 8851-3PCC.xml), and returns the model digits.
func ciscoPSN(s string) (string, bool) {
	m, ok := strings.CutSuffix(s, "-3pcc.xml")
	if !ok || len(m) != 4 {
		return "", false
	}
	for i := 0; i < len(m); i++ {
		if m[i] < '0' || m[i] > '9' {
			return "", false
		}
	}
	return m, true
}

// splitMACName recognises the per-phone names of every vendor in a
// lower-cased file name and returns the kind, the 12 hex digits and, for
// Snom, the model.
func splitMACName(s string) (kind fileKind, hex, model string) {
	switch {
	case strings.HasSuffix(s, "-deskgate.cfg"):
		return ifHex(kindPolyConfig, strings.TrimSuffix(s, "-deskgate.cfg"), "")
	case strings.HasSuffix(s, ".boot"):
		return ifHex(kindMACBoot, strings.TrimSuffix(s, ".boot"), "")
	case strings.HasPrefix(s, "cfg"):
		return ifHex(kindGrandstreamCfg, strings.TrimSuffix(strings.TrimPrefix(s, "cfg"), ".xml"), "")
	case strings.HasPrefix(s, "snom"):
		base, ok := strings.CutSuffix(s, ".htm")
		if !ok {
			base, ok = strings.CutSuffix(s, ".xml")
		}
		m, h, found := strings.Cut(strings.TrimPrefix(base, "snom"), "-")
		if !ok || !found || m == "" || !alnum(m) {
			return kindUnknown, "", ""
		}
		return ifHex(kindSnomCfg, h, m)
	case strings.HasSuffix(s, ".cfg"):
		return ifHex(kindMACCfg, strings.TrimSuffix(s, ".cfg"), "")
	case strings.HasSuffix(s, ".xml"):
		return ifHex(kindMACXML, strings.TrimPrefix(strings.TrimSuffix(s, ".xml"), "spa"), "")
	}
	return kindUnknown, "", ""
}

func ifHex(k fileKind, h, model string) (fileKind, string, string) {
	if len(h) != 12 || !allHex(h) {
		return kindUnknown, "", ""
	}
	return k, h, model
}

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func alnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// compactMAC is a normalised MAC without separators, as phones spell it in
// file names ("001565aabb01").
func compactMAC(mac string) string { return strings.ReplaceAll(mac, ":", "") }
