package discovery

import (
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// decideCase is one row of TestDecidePnP.
type decideCase struct {
	name       string
	msg        pnpSubscribe
	nilSnap    bool
	want       pnpAction
	mac        string
	vendor     string
	model      string
	whyContain string
}

// decideCases are SUBSCRIBEs shaped like the vendors' traces, and
// requests that must be ignored.
func decideCases() []decideCase {
	yealink := snomSubscribe(macYealink, "Yealink", "SIP-T54W", "192.168.10.67:5060")
	return []decideCase{
		{name: "yealink in directory", msg: yealink, want: pnpAnswer, mac: macYealink, vendor: "yealink", model: "yealink-t54w"},
		{name: "snom OEM vendor falls back to directory and OUI",
			msg:  snomSubscribe(macSnom, "OEM", "OEM", "192.168.10.67:5060"),
			want: pnpAnswer, mac: macSnom, vendor: "snom", model: "snom-d785"},
		{name: "unknown MAC recorded, not answered",
			msg:  snomSubscribe(macUnknown, "Yealink", "SIP-T46U", "192.168.10.67:5060"),
			want: pnpRecord, mac: macUnknown, vendor: "yealink", model: "yealink-t46u", whyContain: "not in the directory"},
		{name: "no directory loaded", msg: yealink, nilSnap: true, want: pnpRecord, mac: macYealink,
			vendor: "yealink", model: "yealink-t54w", whyContain: "no directory"},
		{name: "planet MAC= in From, bare group Request-URI", msg: pnpSubscribe{
			RURI: "sip:224.0.1.75", From: "<sip:MAC=001565aabb01@224.0.1.75>;tag=1",
			To: "<sip:MAC=001565aabb01@224.0.1.75>", Via: "192.168.10.67:5060;branch=z9hG4bK31",
			Event:  `Event:ua-profile;profile-type="device";vendor="PLANET";model="VIP-2140PT";version="2.0.3"`,
			CallID: "3224@192.168.10.67"}, want: pnpAnswer, mac: macYealink, vendor: "planet", model: "planet-vip-2140pt"},
		{name: "MAC in +sip.instance only", msg: pnpSubscribe{
			RURI: "sip:224.0.1.75:5060", From: "<sip:1001@10.0.0.1>;tag=9", To: "<sip:224.0.1.75:5060>",
			Contact: `<sip:192.168.10.67:5060>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-001565aabb01>"`,
			Via:     "192.168.10.67:5060;branch=z9hG4bK77", Event: `Event: ua-profile;profile-type=device;vendor=Yealink;model=T54W`,
			CallID: "x@y"}, want: pnpAnswer, mac: macYealink, vendor: "yealink", model: "yealink-t54w"},
		{name: "compact event header", msg: func() pnpSubscribe {
			m := yealink
			m.Event = `o: ua-profile;profile-type="device";vendor="Yealink";model="SIP-T54W"`
			return m
		}(), want: pnpAnswer, mac: macYealink, vendor: "yealink", model: "yealink-t54w"},
		{name: "audiocodes sends no MAC", msg: pnpSubscribe{
			RURI: "sip:224.0.1.75:5060", From: "<sip:00000001@10.13.2.37:5060>;tag=87a5", To: "<sip:224.0.1.75:5060>",
			Contact: "<sip:00000001@10.13.2.37:5060>", Via: "10.13.2.37:5060;rport;branch=z9hG4bK-386d",
			Event:  `Event: ua-profile;profile-type="application";model="440HD";version="2.2.2"`,
			CallID: "8884c8"}, want: pnpIgnore, whyContain: "no MAC"},
		{name: "application profile recorded, not answered", msg: func() pnpSubscribe {
			m := yealink
			m.Event = `Event: ua-profile;profile-type="application";vendor="Yealink";model="SIP-T54W"`
			return m
		}(), want: pnpRecord, mac: macYealink, vendor: "yealink", model: "yealink-t54w", whyContain: "profile-type"},
		{name: "presence subscription ignored", msg: func() pnpSubscribe {
			m := yealink
			m.Event = "Event: presence"
			return m
		}(), want: pnpIgnore, whyContain: "ua-profile"},
		{name: "no event header", msg: func() pnpSubscribe { m := yealink; m.Event = ""; return m }(),
			want: pnpIgnore, whyContain: "ua-profile"},
		{name: "not a SUBSCRIBE", msg: func() pnpSubscribe { m := yealink; m.Method = "OPTIONS"; return m }(),
			want: pnpIgnore, whyContain: "not a SUBSCRIBE"},
		{name: "CSeq method mismatch", msg: func() pnpSubscribe { m := yealink; m.CSeq = "1 NOTIFY"; return m }(),
			want: pnpIgnore, whyContain: "CSeq"},
	}
}

func TestDecidePnP(t *testing.T) {
	snap := testSnapshot(t)
	src := net.ParseIP("192.168.10.67")
	tests := decideCases()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parsePnP(tc.msg.bytes())
			if err != nil {
				t.Fatalf("parse: %v\n%s", err, tc.msg.bytes())
			}
			s := snap
			if tc.nilSnap {
				s = nil
			}
			d := decidePnP(req, src, s)
			if d.Action != tc.want {
				t.Fatalf("action = %v (%s), want %v", d.Action, d.Why, tc.want)
			}
			if !strings.Contains(d.Why, tc.whyContain) {
				t.Errorf("why = %q, want it to contain %q", d.Why, tc.whyContain)
			}
			if tc.want == pnpIgnore {
				return
			}
			got := d.Phone
			if got.MAC != tc.mac || got.Vendor != tc.vendor || got.Model != tc.model || got.Address != src.String() {
				t.Errorf("phone = %+v, want mac %s vendor %s model %s address %s", got, tc.mac, tc.vendor, tc.model, src)
			}
		})
	}
}

func TestParsePnPRejectsResponsesAndGarbage(t *testing.T) {
	for name, data := range map[string]string{
		"response": "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nContent-Length: 0\r\n\r\n",
		"garbage":  "\x00\x01hello",
		"empty":    "",
		"bare LF in a header": "SUBSCRIBE sip:MAC%3a001565aabb01@x SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.7;branch=z9hG4bK1\r\n" +
			"From: <sip:a@x>;tag=1\r\nTo: <sip:a@x>\r\nCall-ID: c\r\nCSeq: 1 SUBSCRIBE\r\n" +
			"Event: ua-profile;profile-type=device\nX-Injected: 1\r\nContent-Length: 0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parsePnP([]byte(data)); err == nil {
				t.Fatal("parsePnP accepted it")
			}
		})
	}
}

func TestPnPTargets(t *testing.T) {
	src := &net.UDPAddr{IP: net.ParseIP("10.0.0.7"), Port: 40000}
	tests := []struct {
		name, via, contact string
		res, notify        string
	}{
		{"rport uses source port", "10.0.0.7:5060;rport;branch=z9hG4bK1", "<sip:10.0.0.7:5062>", "10.0.0.7:40000", "10.0.0.7:5062"},
		{"via port without rport", "10.0.0.7:5070;branch=z9hG4bK1", "<sip:10.0.0.7>", "10.0.0.7:5070", "10.0.0.7:5060"},
		{"via without port", "10.0.0.7;branch=z9hG4bK1", "", "10.0.0.7:5060", "10.0.0.7:5060"},
		{"third-party via host is not used", "203.0.113.9:5080;branch=z9hG4bK1", "<sip:203.0.113.9:5090>", "10.0.0.7:5080", "10.0.0.7:5080"},
		{"contact host name is not used", "10.0.0.7:5060;branch=z9hG4bK1", "<sip:phone.example:5090>", "10.0.0.7:5060", "10.0.0.7:5060"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := snomSubscribe(macYealink, "Yealink", "T54W", "10.0.0.7:5060")
			m.Via, m.Contact = tc.via, tc.contact
			req, err := parsePnP(m.bytes())
			if err != nil {
				t.Fatal(err)
			}
			res, notify := pnpTargets(req, src)
			if res.String() != tc.res || notify.String() != tc.notify {
				t.Errorf("targets = %s, %s; want %s, %s", res, notify, tc.res, tc.notify)
			}
		})
	}
}

// TestPnPResponseAndNotify checks the 200 OK and NOTIFY by parsing them
// back: dialog tags, Event, Subscription-State, body.
func TestPnPResponseAndNotify(t *testing.T) {
	m := snomSubscribe(macYealink, "Yealink", "SIP-T54W", "10.0.0.7:5060")
	req, err := parsePnP(m.bytes())
	if err != nil {
		t.Fatal(err)
	}
	src := &net.UDPAddr{IP: net.ParseIP("10.0.0.7"), Port: 5060}
	local := &net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: 41000}
	res := pnpResponse(req, src, local)
	back, err := sip.ParseMessage([]byte(res.String()))
	if err != nil {
		t.Fatalf("200 OK does not parse: %v\n%s", err, res)
	}
	r := back.(*sip.Response)
	toTag, _ := r.To().Params.Get("tag")
	if r.StatusCode != 200 || toTag == "" || r.Contact() == nil || r.GetHeader("Expires").Value() != "0" {
		t.Fatalf("bad 200 OK:\n%s", res)
	}
	if rp, _ := r.Via().Params.Get("rport"); rp != "5060" {
		t.Errorf("Via rport = %q, want 5060 filled in:\n%s", rp, res)
	}
	url := "http://10.0.0.1:8080/"
	n := pnpNotify(req, res, local, src, url)
	back, err = sip.ParseMessage([]byte(n.String()))
	if err != nil {
		t.Fatalf("NOTIFY does not parse: %v\n%s", err, n)
	}
	nr := back.(*sip.Request)
	fromTag, _ := nr.From().Params.Get("tag")
	phoneTag, _ := nr.To().Params.Get("tag")
	checks := map[string]bool{
		"method NOTIFY":             nr.Method == sip.NOTIFY,
		"request-uri is contact":    nr.Recipient.Host == "10.0.0.7" && nr.Recipient.Port == 5060,
		"from tag is 200's to tag":  fromTag == toTag,
		"to tag is phone's":         phoneTag == "658512961",
		"same call-id":              nr.CallID().Value() == req.CallID().Value(),
		"event copied":              strings.HasPrefix(nr.GetHeader("Event").Value(), "ua-profile;profile-type="),
		"subscription terminated":   nr.GetHeader("Subscription-State").Value() == "terminated;reason=timeout",
		"content-type":              nr.ContentType() != nil && nr.ContentType().Value() == "application/url",
		"body is url":               string(nr.Body()) == url,
		"via names local":           nr.Via().Host == "10.0.0.1" && nr.Via().Port == 41000,
		"cseq NOTIFY":               nr.CSeq().MethodName == sip.NOTIFY,
		"branch is rfc3261":         strings.HasPrefix(nr.Via().Params.GetOr("branch", ""), "z9hG4bK"),
		"content-length matches":    nr.ContentLength() != nil && int(*nr.ContentLength()) == len(url),
		"max-forwards present":      nr.MaxForwards() != nil,
		"contact is local":          nr.Contact() != nil && nr.Contact().Address.Host == "10.0.0.1",
		"notify matches own branch": notifyResponse(okFor(t, nr), src, src, nr.CallID().Value(), nr.Via().Params.GetOr("branch", "")) != nil,
	}
	for what, ok := range checks {
		if !ok {
			t.Errorf("%s: no\n%s", what, n)
		}
	}
}

// okFor returns the bytes of a 200 OK to req, as a phone would send.
func okFor(t *testing.T, req *sip.Request) []byte {
	t.Helper()
	return []byte(sip.NewResponseFromRequest(req, 200, "OK", nil).String())
}

func TestNotifyResponseFilters(t *testing.T) {
	m := snomSubscribe(macYealink, "Yealink", "SIP-T54W", "10.0.0.7:5060")
	req, _ := parsePnP(m.bytes())
	phone := &net.UDPAddr{IP: net.ParseIP("10.0.0.7"), Port: 5060}
	local := &net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: 41000}
	n := pnpNotify(req, pnpResponse(req, phone, local), local, phone, "http://x/")
	branch := n.Via().Params.GetOr("branch", "")
	ok := okFor(t, n)
	other := &net.UDPAddr{IP: net.ParseIP("10.0.0.8"), Port: 5060}
	tests := []struct {
		name   string
		data   []byte
		from   *net.UDPAddr
		branch string
		want   bool
	}{
		{"match", ok, phone, branch, true},
		{"other host", ok, other, branch, false},
		{"other branch", ok, phone, "z9hG4bKother", false},
		{"a request", []byte(n.String()), phone, branch, false},
		{"garbage", []byte("hello"), phone, branch, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := notifyResponse(tc.data, tc.from, phone, n.CallID().Value(), tc.branch) != nil
			if got != tc.want {
				t.Errorf("match = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestProvisioningURL(t *testing.T) {
	local := net.ParseIP("10.0.0.1")
	tests := []struct{ in, want string }{
		{"http://0.0.0.0:8080/", "http://10.0.0.1:8080/"},
		{"http://[::]:8080/p/", "http://10.0.0.1:8080/p/"},
		{"http://:8080/", "http://10.0.0.1:8080/"},
		{"http://prov.example:8080/x", "http://prov.example:8080/x"},
		{"https://192.0.2.5/", "https://192.0.2.5/"},
		{"http://0.0.0.0/", "http://10.0.0.1/"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			u, err := url.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := provisioningURL(u, local); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	u, _ := url.Parse("http://[::]:8080/")
	if got := provisioningURL(u, net.ParseIP("fe80::1")); got != "http://[fe80::1]:8080/" {
		t.Errorf("ipv6 local: got %q", got)
	}
}

func TestParseEvent(t *testing.T) {
	tests := []struct {
		in   string
		want uaProfile
	}{
		{`ua-profile;profile-type="device";vendor="OEM";model="OEM";version="7.1.19"`,
			uaProfile{"ua-profile", "device", "OEM", "OEM", "7.1.19"}},
		{`UA-Profile ; Profile-Type=Device ; Vendor=Yealink`, uaProfile{Package: "ua-profile", ProfileType: "device", Vendor: "Yealink"}},
		{``, uaProfile{}},
		{`presence;id=1`, uaProfile{Package: "presence"}},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := parseEvent(tc.in); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestTxKey(t *testing.T) {
	a := snomSubscribe(macYealink, "Yealink", "T54W", "10.0.0.7:5060")
	b := a
	b.CSeq = "2 SUBSCRIBE"
	ra, _ := parsePnP(a.bytes())
	ra2, _ := parsePnP(a.bytes())
	rb, _ := parsePnP(b.bytes())
	if txKey(ra) != txKey(ra2) {
		t.Error("a retransmission has a different key")
	}
	if txKey(ra) == txKey(rb) {
		t.Error("a new CSeq has the same key")
	}
}

func TestNotifyEvent(t *testing.T) {
	tests := []struct {
		in   uaProfile
		want string
	}{
		{uaProfile{"ua-profile", "device", "Yealink", "SIP-T54W", "96.86.0.100"},
			`ua-profile;profile-type="device";vendor="Yealink";model="SIP-T54W";version="96.86.0.100"`},
		{uaProfile{Package: "ua-profile", ProfileType: "device"}, `ua-profile;profile-type="device"`},
		{uaProfile{Package: "ua-profile", ProfileType: "device", Vendor: "a\"b\\c\x01d"}, `ua-profile;profile-type="device";vendor="abcd"`},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			if got := notifyEvent(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
