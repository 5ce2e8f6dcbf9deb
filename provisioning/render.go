package provisioning

import (
	"deskgate/daemon/directory"
)

// sipServer is where phones register: the advertised address.
type sipServer struct {
	Host      string
	Port      int
	Transport string // "udp", "tcp" or "tls"
	Domain    string // SIP domain (digest realm); away resources live here
}

// renderInput is what a per-phone file is written from. Password is the
// phone user's SIP password: the only secret a phone file ever holds.
type renderInput struct {
	Layout          PhoneLayout
	Password        string
	SIP             sipServer
	BaseURL         string // provisioning URL phones are told to keep using; "" = leave theirs
	VoicemailNumber string // what voicemail keys dial; "" = leave the phone's
}

// commonInput is what a model-wide file is written from. It has no user and
// no password by construction: model-wide files are served to every phone
// of the vendor.
type commonInput struct {
	SIP     sipServer
	BaseURL string
}

// file is a rendered file.
type file struct {
	body        []byte
	contentType string
}

// vendor renders one vendor's files. Implementations are stateless values.
type vendor interface {
	// layoutOptions describes a model: keys, accounts and which features
	// get a key on it. Domain is filled in by the caller.
	layoutOptions(model string) LayoutOptions
	// serves reports whether the vendor has per-phone files of kind.
	serves(kind fileKind) bool
	// phoneFile renders a file named after one phone; ok is false when the
	// vendor has no file of that kind (the server answers 404).
	phoneFile(req fileRequest, in renderInput) (file, bool)
	// commonFile renders a model-wide file; ok is false when not served.
	commonFile(req fileRequest, in commonInput) (file, bool)
}

// vendorFor returns the renderer of a vendor ("yealink", …), or nil.
func vendorFor(name string) vendor {
	switch name {
	case "yealink":
		return yealink{}
	case "poly":
		return poly{}
	case "grandstream":
		return grandstream{}
	case "snom":
		return snom{}
	case "cisco":
		return cisco{}
	case "fanvil":
		return fanvil{}
	}
	return nil
}

// layoutOptionsFor returns the layout options of a known model, or false.
func layoutOptionsFor(model, domain string) (LayoutOptions, bool) {
	v := vendorFor(directory.Vendor(model))
	if v == nil {
		return LayoutOptions{}, false
	}
	o := v.layoutOptions(model)
	o.Domain = domain
	return o, true
}

// modelName is the model without its vendor prefix ("t54w").
func modelName(model string) string {
	_, name, _ := directory.SplitModel(model)
	return name
}

// lineKeysOf is the number of programmable line keys of a known model.
func lineKeysOf(model string) int { return directory.LineKeys(model) }
