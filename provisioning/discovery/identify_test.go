package discovery

import (
	"net"
	"testing"
)

func TestIdentify(t *testing.T) {
	tests := []struct {
		vendor, model         string
		wantVendor, wantModel string
	}{
		{"Yealink", "SIP-T54W", "yealink", "yealink-t54w"},
		{"Yealink", "SIP T46U", "yealink", "yealink-t46u"},
		{"yealink network technology", "T58W", "yealink", "yealink-t58w"},
		{"Yealink", "SIP-T99Z", "yealink", "yealink-t99z"}, // unknown model kept, cleaned
		{"OEM", "snomD785", "snom", "snom-d785"},
		{"snom", "snomD785", "snom", "snom-d785"},
		{"Polycom", "VVX_450", "poly", "poly-vvx450"},
		{"Poly", "Edge E350", "poly", "poly-edge-e350"},
		{"Grandstream", "GRP2614", "grandstream", "grandstream-grp2614"},
		{"Cisco", "CP-8851-3PCC", "cisco", "cisco-8851"},
		{"Fanvil", "X6U", "fanvil", "fanvil-x6u"},
		{"OEM", "OEM", "", ""},
		{"", "", "", ""},
		{"PLANET", "VIP-2140PT", "planet", "planet-vip-2140pt"},
		{"", "VIP-2140PT", "", "vip2140pt"},
		{"Evil\r\nVendor", "M\x00odel<script>", "evilvendor", "evilvendor-modelscript"},
	}
	for _, tc := range tests {
		t.Run(tc.vendor+"/"+tc.model, func(t *testing.T) {
			v, m := identify(tc.vendor, tc.model)
			if v != tc.wantVendor || m != tc.wantModel {
				t.Errorf("identify = %q, %q; want %q, %q", v, m, tc.wantVendor, tc.wantModel)
			}
		})
	}
}

func TestMACFromUser(t *testing.T) {
	tests := []struct{ in, want string }{
		{"MAC%3a00135E874B49", "00:13:5e:87:4b:49"},
		{"MAC%3A001565AABB01", macYealink},
		{"MAC:00:15:65:aa:bb:01", macYealink},
		{"mac=001565aabb01", macYealink},
		{"MAC001565aabb01", macYealink},
		{"001565aabb01", macYealink},
		{"00000001", ""},
		{"1001", ""},
		{"MAC%3a010000000000", ""}, // multicast bit set
		{"MAC%zz", ""},
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := macFromUser(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("macFromUser = %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestMACFromInstanceID(t *testing.T) {
	tests := []struct{ in, want string }{
		{`"<urn:uuid:00000000-0000-1000-8000-001565aabb01>"`, macYealink},
		{`<urn:uuid:00000000-0000-1000-8000-001565AABB01>`, macYealink},
		{`"<urn:uuid:00000000-0000-1000-8000-0015>"`, ""},
		{`"<urn:foo:00000000-0000-1000-8000-001565aabb01>"`, ""},
		{``, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := macFromInstanceID(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("got %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestMACFromText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Yealink SIP-T54W 805EC0123456", "80:5e:c0:12:34:56"},
		{"SEP001565AABB01", macYealink},
		{"snom D785 (00:04:13:aa:bb:02)", macSnom},
		{"phone-00-15-65-aa-bb-01.local.", macYealink},
		{"001565aabb01", macYealink},
		{"id 001565aabb0123", ""}, // 14 hex digits: not a MAC
		{"T54W", ""},
		{"00:15:65:aa:bb", ""},
		{"00:15:65:aa:bb:01:02", ""},
		{"ab:00:15:65:aa:bb:01", ""}, // seven groups
		{"", ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, ok := macFromText(tc.in)
			if got != tc.want || ok != (tc.want != "") {
				t.Errorf("got %q, %v; want %q", got, ok, tc.want)
			}
		})
	}
}

func TestSightingComplete(t *testing.T) {
	snap := testSnapshot(t)
	tests := []struct {
		name string
		in   sighting
		want sighting
	}{
		{"directory fills vendor and model", sighting{MAC: macSnom}, sighting{MAC: macSnom, Vendor: "snom", Model: "snom-d785"}},
		{"phone's own model wins", sighting{MAC: macYealink, Vendor: "yealink", Model: "yealink-t58w"},
			sighting{MAC: macYealink, Vendor: "yealink", Model: "yealink-t58w"}},
		{"other vendor's model is not borrowed", sighting{MAC: macYealink, Vendor: "planet"},
			sighting{MAC: macYealink, Vendor: "planet"}},
		{"OUI names the vendor", sighting{MAC: macUnknown}, sighting{MAC: macUnknown, Vendor: "yealink"}},
		{"unknown OUI", sighting{MAC: "02:00:00:00:00:01"}, sighting{MAC: "02:00:00:00:00:01"}},
		{"no MAC", sighting{Vendor: "x"}, sighting{Vendor: "x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.complete(snap); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
	if got := (sighting{MAC: macSnom}).complete(nil); got.Vendor != "snom" || got.Model != "" {
		t.Errorf("nil directory: %+v", got)
	}
}

func TestMDNSSighting(t *testing.T) {
	v4 := net.ParseIP("10.0.0.7")
	v6 := &net.IPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"}
	tests := []struct {
		name, entry, host string
		txt               []string
		v6only            bool
		want              sighting
	}{
		{name: "mac and model in TXT", entry: "Desk 12._sip._udp.local.", host: "desk12.local.",
			txt:  []string{"mac=00:15:65:AA:BB:01", "vendor=Yealink", "model=SIP-T54W"},
			want: sighting{MAC: macYealink, Vendor: "yealink", Model: "yealink-t54w", Address: "10.0.0.7"}},
		{name: "mac in instance name, model in name", entry: `Yealink\ SIP-T46U\ 001565AABB01._sip._udp.local.`,
			host: "x.local.", txt: []string{"txtvers=1"},
			want: sighting{MAC: macYealink, Vendor: "yealink", Model: "yealink-t46u", Address: "10.0.0.7"}},
		{name: "decimal escapes in name", entry: `snom\032D785\032000413aabb02._sip._udp.local.`, host: "x.local.",
			want: sighting{MAC: macSnom, Vendor: "snom", Model: "snom-d785", Address: "10.0.0.7"}},
		{name: "mac in host name, printer-style keys", entry: "Lobby._sip._tcp.local.", host: "SEP0004F2010205.local.",
			txt:  []string{"usb_MFG=Polycom", "ty=VVX 450"},
			want: sighting{MAC: "00:04:f2:01:02:05", Vendor: "poly", Model: "poly-vvx450", Address: "10.0.0.7"}},
		{name: "first key wins, bad MAC key ignored", entry: "a._sip._udp.local.", host: "a.local.",
			txt:  []string{"MAC=nothex", "mac=001565aabb01", "model=T54W"},
			want: sighting{Model: "t54w", Address: "10.0.0.7"}},
		{name: "no MAC anywhere", entry: "deskgate-hq._sip._udp.local.", host: "deskgate.local.",
			txt: []string{"site=hq"}, want: sighting{Address: "10.0.0.7"}},
		{name: "ipv6 only", entry: "p._sip._udp.local.", host: "p.local.", txt: []string{"deviceid=00:15:65:aa:bb:01"},
			v6only: true, want: sighting{MAC: macYealink, Address: "fe80::1%eth0"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a4 := v4
			if tc.v6only {
				a4 = nil
			}
			if got := mdnsSighting(tc.entry, tc.host, tc.txt, a4, v6); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestInstanceLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{`Yealink\ T54W._sip._udp.local.`, "Yealink T54W"},
		{`a\.b._http._tcp.local.`, "a.b"},
		{`x\032y._sip._udp.local.`, "x y"},
		{`trailing\`, `trailing\`},
		{`no-dots`, "no-dots"},
		{``, ""},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := instanceLabel(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
