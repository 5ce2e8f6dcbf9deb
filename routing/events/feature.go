package events

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// BroadSoft Device Feature Key Synchronization (as-feature-event): the
// phone subscribes (no body) and gets the current state in a NOTIFY; a key
// press on the phone is a SUBSCRIBE whose body is a CSTA request
// (SetDoNotDisturb, SetForwarding); every change is a NOTIFY with the
// matching CSTA event (DoNotDisturbEvent, ForwardingEvent). Element names
// and the namespace follow BroadSoft's "Device Feature Key Synchronization
// Functional Description" (Release 14.sp4), as implemented by Asterisk's
// res_pjsip_features_body_generator and OpenSIPS/Kamailio presence_dfks.
const (
	FeatureContentType = "application/x-as-feature-event+xml"
	CSTANamespace      = "http://www.ecma-international.org/standards/ecma-323/csta/ed3"
)

// Forwarding types of the CSTA SetForwarding / ForwardingEvent elements.
const (
	ForwardImmediate = "forwardImmediate"
	ForwardBusy      = "forwardBusy"
	ForwardNoAnswer  = "forwardNoAns"
)

// FeatureKind says which CSTA request a phone sent.
type FeatureKind int

// Kinds of FeatureRequest.
const (
	SetDoNotDisturb FeatureKind = iota + 1
	SetForwarding
)

// FeatureRequest is a phone's feature key press carried in a SUBSCRIBE
// body.
type FeatureRequest struct {
	Kind   FeatureKind
	Device string // as the phone wrote it (an extension or a SIP URI); informational
	// SetDoNotDisturb
	DND bool
	// SetForwarding
	ForwardingType string // ForwardImmediate, ForwardBusy, ForwardNoAnswer
	Activate       bool
	ForwardTo      string
}

// MaxFeatureBody bounds a feature request body (outside input): the real
// ones are a few hundred bytes.
const MaxFeatureBody = 8 << 10

// ErrNoFeatureRequest means the body holds no CSTA request we know.
var ErrNoFeatureRequest = errors.New("no SetDoNotDisturb or SetForwarding request")

// featureXML is what both CSTA requests may hold.
type featureXML struct {
	XMLName        xml.Name
	Device         string `xml:"device"`
	DNDOn          string `xml:"doNotDisturbOn"`
	ForwardingType string `xml:"forwardingType"`
	Activate       string `xml:"activateForward"`
	ForwardDN      string `xml:"forwardDN"`
}

// ParseFeatureRequest reads a SUBSCRIBE body of Content-Type
// FeatureContentType. The root element must be SetDoNotDisturb or
// SetForwarding in the CSTA namespace (or in none: some firmware omits it);
// booleans are "true"/"false" (also "1"/"0", any case).
func ParseFeatureRequest(body []byte) (FeatureRequest, error) {
	if len(body) > MaxFeatureBody {
		return FeatureRequest{}, fmt.Errorf("feature request: body of %d bytes exceeds %d", len(body), MaxFeatureBody)
	}
	dec := xml.NewDecoder(bytes.NewReader(body))
	dec.CharsetReader = latin1Reader // BroadSoft declares ISO-8859-1
	var x featureXML
	if err := dec.Decode(&x); err != nil {
		return FeatureRequest{}, fmt.Errorf("feature request: %w", err)
	}
	if ns := x.XMLName.Space; ns != "" && ns != CSTANamespace {
		return FeatureRequest{}, fmt.Errorf("feature request: namespace %q: %w", ns, ErrNoFeatureRequest)
	}
	r := FeatureRequest{Device: strings.TrimSpace(x.Device)}
	var err error
	switch x.XMLName.Local {
	case "SetDoNotDisturb":
		r.Kind = SetDoNotDisturb
		r.DND, err = parseBool("doNotDisturbOn", x.DNDOn)
	case "SetForwarding":
		r.Kind = SetForwarding
		r.ForwardingType = strings.TrimSpace(x.ForwardingType)
		r.ForwardTo = strings.TrimSpace(x.ForwardDN)
		r.Activate, err = parseBool("activateForward", x.Activate)
		if err == nil && !knownForwarding(r.ForwardingType) {
			err = fmt.Errorf("forwardingType %q unknown", r.ForwardingType)
		}
	default:
		return FeatureRequest{}, fmt.Errorf("feature request: root element %q: %w", x.XMLName.Local, ErrNoFeatureRequest)
	}
	if err != nil {
		return FeatureRequest{}, fmt.Errorf("feature request %s: %w", x.XMLName.Local, err)
	}
	return r, nil
}

func knownForwarding(t string) bool {
	return t == ForwardImmediate || t == ForwardBusy || t == ForwardNoAnswer
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("%s %q is not a boolean", name, v)
}

// latin1Reader decodes ISO-8859-1, the charset BroadSoft's examples declare.
func latin1Reader(charset string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "latin-1", "us-ascii":
	default:
		return nil, fmt.Errorf("charset %q not supported", charset)
	}
	data, err := io.ReadAll(io.LimitReader(in, MaxFeatureBody+1))
	if err != nil {
		return nil, err
	}
	runes := make([]rune, len(data))
	for i, b := range data {
		runes[i] = rune(b)
	}
	return strings.NewReader(string(runes)), nil
}

// DNDEvent is the NOTIFY body telling a phone the user's DND state. device
// is echoed from the phone's request when known (BroadSoft: mandatory, but
// used by neither side), else the user's extension.
func DNDEvent(device string, on bool) []byte {
	var b bytes.Buffer
	featureHead(&b, "DoNotDisturbEvent")
	element(&b, "device", device)
	element(&b, "doNotDisturbOn", boolText(on))
	b.WriteString("</DoNotDisturbEvent>\n")
	return b.Bytes()
}

// ForwardingEvent is the NOTIFY body telling a phone the state of one
// forwarding type. deskgate has no server-side forwarding, so it sends
// these with on=false to turn a phone's forwarding key back off.
func ForwardingEvent(device, forwardingType string, on bool, to string) []byte {
	var b bytes.Buffer
	featureHead(&b, "ForwardingEvent")
	element(&b, "device", device)
	element(&b, "forwardingType", forwardingType)
	element(&b, "forwardStatus", boolText(on))
	if on {
		element(&b, "forwardTo", to)
	}
	b.WriteString("</ForwardingEvent>\n")
	return b.Bytes()
}

func featureHead(b *bytes.Buffer, root string) {
	// Polycom firmware reboots on a body without the namespace (Asterisk
	// res_pjsip_features_body_generator.c), so it is always written.
	b.WriteString(`<?xml version="1.0" encoding="ISO-8859-1"?>` + "\n")
	b.WriteString("<" + root + ` xmlns="` + CSTANamespace + `">` + "\n")
}

// element writes <name>text</name> with text escaped and limited to ASCII
// (numeric references beyond it), so the ISO-8859-1 declaration holds.
func element(b *bytes.Buffer, name, text string) {
	b.WriteString("  <" + name + ">")
	for _, r := range text {
		switch {
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '&':
			b.WriteString("&amp;")
		case r == '"':
			b.WriteString("&quot;")
		case r == '\'':
			b.WriteString("&apos;")
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r':
			// not allowed in XML 1.0, even as a reference: dropped
		case r < 0x20 || r > 0x7e:
			fmt.Fprintf(b, "&#x%X;", r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteString("</" + name + ">\n")
}

func boolText(v bool) string {
	if v {
		return "true"
	}
	return "false"
}
