package events

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"
)

// Requests as phones send them (phones.md "SIP event packages"; BroadSoft
// DFKS functional description examples as quoted by Asterisk and
// OpenSIPS presence_dfks).
const (
	yealinkSetDND = `<?xml version="1.0" encoding="ISO-8859-1"?>
<SetDoNotDisturb xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
<device>1001</device>
<doNotDisturbOn>true</doNotDisturbOn>
</SetDoNotDisturb>`
	polySetDNDOff = `<?xml version="1.0" encoding="UTF-8"?>
<SetDoNotDisturb xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><device>sip:1001@hq.example.test</device><doNotDisturbOn>false</doNotDisturbOn></SetDoNotDisturb>`
	setForwarding = `<?xml version="1.0" encoding="ISO-8859-1"?>
<SetForwarding xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
<device>1001</device>
<forwardingType>forwardImmediate</forwardingType>
<activateForward>true</activateForward>
<forwardDN>1002</forwardDN>
</SetForwarding>`
)

func TestParseFeatureRequest(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		want    FeatureRequest
		wantErr bool
	}{
		{name: "Yealink SetDoNotDisturb on", body: yealinkSetDND,
			want: FeatureRequest{Kind: SetDoNotDisturb, Device: "1001", DND: true}},
		{name: "Poly SetDoNotDisturb off with a URI device", body: polySetDNDOff,
			want: FeatureRequest{Kind: SetDoNotDisturb, Device: "sip:1001@hq.example.test"}},
		{name: "no namespace (lenient)", body: `<SetDoNotDisturb><device>1001</device><doNotDisturbOn>1</doNotDisturbOn></SetDoNotDisturb>`,
			want: FeatureRequest{Kind: SetDoNotDisturb, Device: "1001", DND: true}},
		{name: "upper-case boolean", body: `<SetDoNotDisturb><doNotDisturbOn>TRUE</doNotDisturbOn></SetDoNotDisturb>`,
			want: FeatureRequest{Kind: SetDoNotDisturb, DND: true}},
		{name: "SetForwarding", body: setForwarding,
			want: FeatureRequest{Kind: SetForwarding, Device: "1001", ForwardingType: ForwardImmediate, Activate: true, ForwardTo: "1002"}},
		{name: "Latin-1 device", body: "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><SetDoNotDisturb><device>caf\xe9</device><doNotDisturbOn>false</doNotDisturbOn></SetDoNotDisturb>",
			want: FeatureRequest{Kind: SetDoNotDisturb, Device: "café"}},
		{name: "other namespace", body: `<SetDoNotDisturb xmlns="urn:x"><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>`, wantErr: true},
		{name: "an event instead of a request", body: `<DoNotDisturbEvent xmlns="` + CSTANamespace + `"><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>`, wantErr: true},
		{name: "missing boolean", body: `<SetDoNotDisturb><device>1</device></SetDoNotDisturb>`, wantErr: true},
		{name: "bad boolean", body: `<SetDoNotDisturb><doNotDisturbOn>yes</doNotDisturbOn></SetDoNotDisturb>`, wantErr: true},
		{name: "unknown forwarding type", body: `<SetForwarding><forwardingType>forwardSometimes</forwardingType><activateForward>false</activateForward></SetForwarding>`, wantErr: true},
		{name: "unsupported charset", body: `<?xml version="1.0" encoding="EBCDIC"?><SetDoNotDisturb/>`, wantErr: true},
		{name: "empty", body: "", wantErr: true},
		{name: "not XML", body: "DND on", wantErr: true},
		{name: "too large", body: `<SetDoNotDisturb><device>` + strings.Repeat("1", MaxFeatureBody) + `</device></SetDoNotDisturb>`, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseFeatureRequest([]byte(tt.body))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := ParseFeatureRequest([]byte(`<Other/>`)); !errors.Is(err, ErrNoFeatureRequest) {
		t.Errorf("unknown root: %v, want ErrNoFeatureRequest", err)
	}
}

// cstaEvent is what a phone reads from our NOTIFY.
type cstaEvent struct {
	XMLName        xml.Name
	Device         string  `xml:"device"`
	DNDOn          string  `xml:"doNotDisturbOn"`
	ForwardingType string  `xml:"forwardingType"`
	ForwardStatus  string  `xml:"forwardStatus"`
	ForwardTo      *string `xml:"forwardTo"`
}

func TestFeatureEvents(t *testing.T) {
	tests := []struct {
		name   string
		body   []byte
		golden string
		want   cstaEvent
	}{
		{name: "DND on", body: DNDEvent("1001", true), golden: `<?xml version="1.0" encoding="ISO-8859-1"?>
<DoNotDisturbEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <device>1001</device>
  <doNotDisturbOn>true</doNotDisturbOn>
</DoNotDisturbEvent>
`, want: cstaEvent{Device: "1001", DNDOn: "true"}},
		{name: "DND off, escaped and ASCII-only device", body: DNDEvent("sip:a&b@ex\u00e9\x01", false),
			want: cstaEvent{Device: "sip:a&b@ex\u00e9", DNDOn: "false"}},
		{name: "forwarding off", body: ForwardingEvent("1001", ForwardBusy, false, "1002"), golden: `<?xml version="1.0" encoding="ISO-8859-1"?>
<ForwardingEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
  <device>1001</device>
  <forwardingType>forwardBusy</forwardingType>
  <forwardStatus>false</forwardStatus>
</ForwardingEvent>
`, want: cstaEvent{Device: "1001", ForwardingType: ForwardBusy, ForwardStatus: "false"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.golden != "" && string(tt.body) != tt.golden {
				t.Errorf("body:\n%s\nwant:\n%s", tt.body, tt.golden)
			}
			for _, c := range tt.body {
				if c > 0x7e {
					t.Fatalf("non-ASCII byte %#x under an ISO-8859-1 declaration", c)
				}
			}
			dec := xml.NewDecoder(strings.NewReader(string(tt.body)))
			dec.CharsetReader = latin1Reader
			var got cstaEvent
			if err := dec.Decode(&got); err != nil {
				t.Fatal(err)
			}
			if got.XMLName.Space != CSTANamespace {
				t.Errorf("namespace %q", got.XMLName.Space)
			}
			got.XMLName = xml.Name{}
			if got.ForwardTo != nil {
				t.Errorf("forwardTo present while forwarding is off")
			}
			if got != tt.want {
				t.Errorf("decoded %+v, want %+v", got, tt.want)
			}
		})
	}
}
