package discovery

import (
	"net"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
)

// FuzzPnP feeds datagrams through everything the PnP socket does with
// them short of I/O: parse, decide, and for answered ones build the 200 OK
// and NOTIFY. Whatever arrives, the decision names a valid MAC, stored
// strings are clean, and the NOTIFY we send parses with the URL as its
// whole body (nothing from the request can inject headers or body).
func FuzzPnP(f *testing.F) {
	for _, m := range []pnpSubscribe{
		snomSubscribe(macYealink, "Yealink", "SIP-T54W", "10.0.0.7:5060"),
		snomSubscribe(macSnom, "OEM", "OEM", "10.0.0.7:5060"),
		snomSubscribe(macUnknown, "Grandstream", "GRP2614", "10.0.0.7:5062"),
		{RURI: "sip:224.0.1.75", From: "<sip:MAC=001565aabb01@224.0.1.75>;tag=1", To: "<sip:224.0.1.75>",
			Via: "10.0.0.7:5060;branch=z9hG4bK1", Event: `Event:ua-profile;profile-type="device";vendor="PLANET"`, CallID: "c"},
	} {
		f.Add(m.bytes())
	}
	f.Add([]byte("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.7\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("SUBSCRIBE sip:MAC%3a@x SIP/2.0\r\nEvent: ua-profile\r\n\r\n"))
	snap, err := parseOffice()
	if err != nil {
		f.Fatal(err)
	}
	src := &net.UDPAddr{IP: net.ParseIP("10.0.0.7"), Port: 5060}
	local := &net.UDPAddr{IP: net.ParseIP("10.0.0.1"), Port: 41000}
	const provURL = "http://10.0.0.1:8080/"
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parsePnP(data)
		if err != nil {
			return
		}
		d := decidePnP(req, src.IP, snap)
		_ = txKey(req)
		if d.Action == pnpIgnore {
			return
		}
		checkSighting(t, d.Phone)
		if _, known := snap.Phone(d.Phone.MAC); (d.Action == pnpAnswer) && !known {
			t.Fatalf("answering %s, which is not in the directory", d.Phone.MAC)
		}
		if d.Action != pnpAnswer {
			return
		}
		resDst, notifyDst := pnpTargets(req, src)
		if !resDst.IP.Equal(src.IP) || !notifyDst.IP.Equal(src.IP) {
			t.Fatalf("targets %s, %s are not the source %s", resDst, notifyDst, src)
		}
		res := pnpResponse(req, src, local)
		text := pnpNotify(req, res, local, notifyDst, provURL).String()
		head, body, ok := strings.Cut(text, "\r\n\r\n")
		if !ok || body != provURL {
			t.Fatalf("NOTIFY body is not the URL:\n%q", text)
		}
		if strings.Contains(head, "\n\n") || strings.Count(head, "\r") != strings.Count(head, "\n") {
			t.Fatalf("NOTIFY header section has stray line breaks:\n%q", head)
		}
		if _, err := sip.ParseMessage([]byte(res.String())); err != nil {
			t.Fatalf("our 200 OK does not parse: %v\n%q", err, res.String())
		}
	})
}

// FuzzMDNSTXT feeds arbitrary instance names, host names and TXT strings
// (NUL-separated) to the browse-answer reader.
func FuzzMDNSTXT(f *testing.F) {
	f.Add(`Yealink\ SIP-T54W\ 805EC0123456._sip._udp.local.`, "yealink.local.", "mac=00:15:65:aa:bb:01\x00model=SIP-T54W\x00vendor=Yealink")
	f.Add(`snom\032D785._sip._udp.local.`, "SEP000413aabb02.local.", "ty=snomD785\x00usb_MFG=snom")
	f.Add("x._sip._udp.local.", "x.local.", "deviceid=00-04-F2-01-02-05\x00md=VVX 450\x00=\x00mac")
	f.Add(`\\\`, `\999`, "\xff\xfe=\x00mac=\xff")
	v4 := net.ParseIP("10.0.0.7")
	f.Fuzz(func(t *testing.T, name, host, txt string) {
		s := mdnsSighting(name, host, strings.Split(txt, "\x00"), v4, nil)
		checkSighting(t, s)
		if s.Address != "10.0.0.7" {
			t.Fatalf("address = %q", s.Address)
		}
	})
}

// checkSighting asserts what the inventory may receive: a normalised MAC (or
// none) and vendor/model made of [a-z0-9.-] only.
func checkSighting(t *testing.T, s sighting) {
	t.Helper()
	if s.MAC != "" {
		if n, err := directory.NormalizeMAC(s.MAC); err != nil || n != s.MAC {
			t.Fatalf("MAC %q is not normalised (%q, %v)", s.MAC, n, err)
		}
	}
	for _, v := range []string{s.Vendor, s.Model} {
		if strings.Trim(v, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" || len(v) > 140 {
			t.Fatalf("unclean inventory value %q in %+v", v, s)
		}
	}
}
