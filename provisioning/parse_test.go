package provisioning

import (
	"strings"
	"testing"

	"deskgate/daemon/directory"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		path  string
		ok    bool
		kind  fileKind
		mac   string
		model string
	}{
		{"/001565aabb01.cfg", true, kindMACCfg, "00:15:65:aa:bb:01", ""},
		{"/001565AABB01.cfg", true, kindMACCfg, "00:15:65:aa:bb:01", ""},
		{"/001565aabb01.boot", true, kindMACBoot, "00:15:65:aa:bb:01", ""},
		{"/0004f2010205-deskgate.cfg", true, kindPolyConfig, "00:04:f2:01:02:05", ""},
		{"/cfgc074ad112233.xml", true, kindGrandstreamCfg, "c0:74:ad:11:22:33", ""},
		{"/cfgc074ad112233", true, kindGrandstreamCfg, "c0:74:ad:11:22:33", ""},
		{"/snomD785-000413AABBCC.htm", true, kindSnomCfg, "00:04:13:aa:bb:cc", "d785"},
		{"/8851-3PCC.xml", true, kindCiscoBootstrap, "", "8851"},
		{"/7821-3pcc.xml", true, kindCiscoBootstrap, "", "7821"},
		{"/snomd785-000413aabbcc.xml", true, kindSnomCfg, "00:04:13:aa:bb:cc", "d785"},
		{"/00562b043615.xml", true, kindMACXML, "00:56:2b:04:36:15", ""},
		{"/spa00562b043615.xml", true, kindMACXML, "00:56:2b:04:36:15", ""},
		{"/y000000000096.cfg", true, kindYealinkCommon, "", ""},
		{"/y000000000000.cfg", true, kindYealinkCommon, "", ""},
		{"/000000000000.cfg", true, kindPolyCommon, "", ""},

		{"/y000000000000.boot", false, 0, "", ""}, // common boot: we serve per-phone boot files instead
		{"/0004f2010205-phone.cfg", false, 0, "", ""},
		{"/0004f2010205-web.cfg", false, 0, "", ""},
		{"/0004f2010205-directory.xml", false, 0, "", ""},
		{"/010000000000.cfg", false, 0, "", ""}, // multicast
		{"/000000000000.boot", false, 0, "", ""},
		{"/001565aabb0.cfg", false, 0, "", ""},
		{"/001565aabb011.cfg", false, 0, "", ""},
		{"/00:15:65:aa:bb:01.cfg", false, 0, "", ""},
		{"/001565aabbzz.cfg", false, 0, "", ""},
		{"/dir/001565aabb01.cfg", false, 0, "", ""},
		{"//001565aabb01.cfg", false, 0, "", ""},
		{"001565aabb01.cfg", false, 0, "", ""},
		{"/..", false, 0, "", ""},
		{"/", false, 0, "", ""},
		{"", false, 0, "", ""},
		{"/snom-000413aabbcc.htm", false, 0, "", ""},
		{"/88512-3PCC.xml", false, 0, "", ""},
		{"/88a1-3PCC.xml", false, 0, "", ""},
		{"/8851-3PCC.cfg", false, 0, "", ""},
		{"/snomd785_000413aabbcc.htm", false, 0, "", ""},
		{"/snomd785-000413aabbcc.cfg", false, 0, "", ""},
		{"/y00000000009a.cfg", false, 0, "", ""},
		{"/" + strings.Repeat("a", 70) + ".cfg", false, 0, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			got, ok := parsePath(tt.path)
			if ok != tt.ok || got.Kind != tt.kind || got.MAC != tt.mac || got.Model != tt.model {
				t.Errorf("parsePath(%q) = %+v, %v; want kind %d mac %q model %q ok %v", tt.path, got, ok, tt.kind, tt.mac, tt.model, tt.ok)
			}
		})
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/001565aabb01.cfg", "/001565aabb01.boot", "/0004f2010205-deskgate.cfg",
		"/cfgc074ad112233.xml", "/snomD785-000413AABBCC.htm", "/spa00562b043615.xml", "/y000000000096.cfg",
		"/000000000000.cfg", "/..", "/a/b", "/%00", "/snom-.xml", "/cfg.xml"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		req, ok := parsePath(p)
		if !ok {
			return
		}
		if req.Kind == kindUnknown || strings.Contains(req.Name, "/") || "/"+req.Name != p {
			t.Fatalf("parsePath(%q) = %+v", p, req)
		}
		if !req.Kind.perPhone() {
			if req.MAC != "" || req.Kind.commonVendor() == "" {
				t.Fatalf("model-wide %q: %+v", p, req)
			}
			return
		}
		if m, err := directory.NormalizeMAC(req.MAC); err != nil || m != req.MAC {
			t.Fatalf("parsePath(%q) MAC %q not normalised", p, req.MAC)
		}
		if !strings.Contains(strings.ToLower(p), compactMAC(req.MAC)) {
			t.Fatalf("parsePath(%q) MAC %q not in the name", p, req.MAC)
		}
	})
}

func TestParseUserAgent(t *testing.T) {
	tests := []struct {
		ua   string
		want uaInfo
	}{
		{"Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:01", uaInfo{"yealink", "yealink-t54w", "00:15:65:aa:bb:01"}},
		{"Yealink SIP-T46U  108.86.0.45 001565AABB02", uaInfo{"yealink", "yealink-t46u", "00:15:65:aa:bb:02"}},
		{"yealink SIP-T28P 2.60.0.110 00:15:65:13:ae:0b", uaInfo{"yealink", "", "00:15:65:13:ae:0b"}},
		{"Yealink SIP-T54W 96.86.0.100", uaInfo{"yealink", "yealink-t54w", ""}},
		{"FileTransport PolycomVVX-VVX_450-UA/6.4.3.5027 (SN:0004f2010205) Type/Application",
			uaInfo{"poly", "poly-vvx450", "00:04:f2:01:02:05"}},
		{"FileTransport PolycomVVX-VVX_350-UA/5.9.0.9373 Type/Application", uaInfo{"poly", "poly-vvx350", ""}},
		{"FileTransport PolyEdge-Edge_E350-UA/8.1.0.1 (SN:64167f0a0b07) Type/Application",
			uaInfo{"poly", "poly-edge-e350", "64:16:7f:0a:0b:07"}},
		{"FileTransport PolycomVVX-VVX_450-UA/6.4.3 (SN:0004f201020) Type/Application", uaInfo{"poly", "poly-vvx450", ""}},
		{"Grandstream Model HW GRP2614 SW 1.0.5.67 DevId c074ad112233", uaInfo{"grandstream", "grandstream-grp2614", "c0:74:ad:11:22:33"}},
		{"Grandstream Model HW GRP2601W SW 1.0.7.32 DevId EC:74:D7:89:1A:76", uaInfo{"grandstream", "", "ec:74:d7:89:1a:76"}},
		{"Cisco-CP-8851-3PCC/11.3.7 (00562b043615)", uaInfo{"cisco", "cisco-8851", "00:56:2b:04:36:15"}},
		{"Cisco-CP-8851-3PCC/11.3.7_MPP_0001", uaInfo{"cisco", "cisco-8851", ""}},
		{"Fanvil X6U 2.12.1 0c383e112233", uaInfo{"fanvil", "fanvil-x6u", "0c:38:3e:11:22:33"}},
		{"Fanvil X5U-V2 2.12.1 0c383e112234)", uaInfo{"fanvil", "fanvil-x5u", "0c:38:3e:11:22:34"}},
		{"Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 2010.12-00001-gd311851f1 (Feb 25 2019 - 14:19:43) 00041396D9B4 SXM:0 UXM:0 UXMC:0)",
			uaInfo{"snom", "snom-d785", "00:04:13:96:d9:b4"}},
		{"snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767", uaInfo{"snom", "", "00:04:13:74:17:67"}},
		{"Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2.0 000413922D24 SXM:0 UXM:0)", uaInfo{"snom", "snom-d785", "00:04:13:92:2d:24"}},
		{"Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16)", uaInfo{"snom", "snom-d785", ""}},
		{"curl/8.5.0", uaInfo{}},
		{"Mozilla/5.0 (X11; Linux x86_64) 001565aabb01", uaInfo{}},
		{"", uaInfo{}},
		{"Yealink SIP-T54W 96.86.0.100 01:00:5e:00:00:01", uaInfo{"yealink", "yealink-t54w", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.ua, func(t *testing.T) {
			if got := parseUserAgent(tt.ua); got != tt.want {
				t.Errorf("parseUserAgent = %+v, want %+v", got, tt.want)
			}
			if tt.want.MAC != "" && !directory.MACIn(tt.ua, tt.want.MAC) {
				t.Errorf("directory.MACIn does not find %s in %q", tt.want.MAC, tt.ua)
			}
		})
	}
}

func FuzzUserAgent(f *testing.F) {
	for _, s := range []string{
		"Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:01",
		"FileTransport PolycomVVX-VVX_450-UA/6.4.3.5027 (SN:0004f2010205) Type/Application",
		"Grandstream Model HW GRP2614 SW 1.0.5.67 DevId c074ad112233",
		"Cisco-CP-8851-3PCC/11.3.7 (00562b043615)",
		"Fanvil X6U 2.12.1 0c383e112233",
		"Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16)",
		"FileTransport Poly-(SN:", "Cisco-CP-", "Grandstream Model HW DevId", "yealink \x00 ff",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ua string) {
		info := parseUserAgent(ua)
		mac, ok := info.MAC, info.MAC != ""
		if info.Model != "" && !directory.KnownModel(info.Model) {
			t.Fatalf("unknown model %q from %q", info.Model, ua)
		}
		if !ok {
			return
		}
		if m, err := directory.NormalizeMAC(mac); err != nil || m != mac {
			t.Fatalf("MAC %q from %q not normalised", mac, ua)
		}
		if !directory.MACIn(ua, mac) {
			t.Fatalf("MAC %q read from %q, but directory.MACIn does not find it there", mac, ua)
		}
	})
}
