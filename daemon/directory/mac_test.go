package directory_test

import (
	"strings"
	"testing"

	"deskgate/daemon/directory"
)

func TestNormalizeMAC(t *testing.T) {
	tests := []struct {
		name, in, want string // want "" = error
	}{
		{"colons upper case", "00:15:65:AA:BB:01", "00:15:65:aa:bb:01"},
		{"dashes", "00-15-65-aa-bb-01", "00:15:65:aa:bb:01"},
		{"bare", "001565aabb01", "00:15:65:aa:bb:01"},
		{"bare upper case", "001565AABB01", "00:15:65:aa:bb:01"},
		{"cisco dots", "0015.65aa.bb01", "00:15:65:aa:bb:01"},
		{"surrounding spaces", "  00:04:f2:01:02:03\n", "00:04:f2:01:02:03"},
		{"already normal", "64:16:7f:0a:0b:07", "64:16:7f:0a:0b:07"},
		{"mixed separators", "00:15-65:aa:bb:01", ""},
		{"dots in the wrong place", "00.1565.aabb01", ""},
		{"too short", "00:15:65:aa:bb", ""},
		{"too long", "001565aabb0102", ""},
		{"not hex", "00:15:65:aa:bb:zz", ""},
		{"single digit groups", "0:15:65:aa:bb:1", ""},
		{"inner space", "00:15:65 aa:bb:01", ""},
		{"empty", "", ""},
		{"all zero", "00:00:00:00:00:00", ""},
		{"multicast", "01:00:5e:00:00:fb", ""},
		{"broadcast", "ff:ff:ff:ff:ff:ff", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := directory.NormalizeMAC(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("NormalizeMAC(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeMAC(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

func FuzzNormalizeMAC(f *testing.F) {
	for _, s := range []string{"00:15:65:AA:BB:01", "00-15-65-aa-bb-01", "001565aabb01", "0015.65aa.bb01", "", "zz", "01:00:5e:00:00:fb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := directory.NormalizeMAC(s)
		if err != nil {
			return
		}
		if len(got) != 17 || strings.Count(got, ":") != 5 || strings.ToLower(got) != got {
			t.Fatalf("NormalizeMAC(%q) = %q: not the canonical form", s, got)
		}
		again, err := directory.NormalizeMAC(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeMAC(%q) = %q, %v: not idempotent", got, again, err)
		}
		for _, spelling := range []string{strings.ToUpper(got), strings.ReplaceAll(got, ":", ""), strings.ReplaceAll(got, ":", "-")} {
			if other, err := directory.NormalizeMAC(spelling); err != nil || other != got {
				t.Fatalf("NormalizeMAC(%q) = %q, %v; want %q", spelling, other, err, got)
			}
		}
	})
}

func TestMACIn(t *testing.T) {
	const mac = "00:15:65:aa:bb:01"
	tests := []struct {
		name, text string
		want       bool
	}{
		{"yealink user agent", "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:01", true},
		{"upper case colons", "Yealink SIP-T54W 96.86.0.100 00:15:65:AA:BB:01", true},
		{"cisco in parentheses", "Cisco-CP-8851-3PCC/11.3.7 (001565aabb01)", true},
		{"grandstream devid", "Grandstream Model HW GRP2614 SW 1.0.5.67 DevId 001565aabb01", true},
		{"snom token upper case", "Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2.0 001565AABB01 SXM:0 UXM:0)", true},
		{"poly serial", "FileTransport PolycomVVX-VVX_450-UA/6.4.3 (SN:001565aabb01) Type/Application", true},
		{"instance id", "<urn:uuid:00000000-0000-1000-8000-001565aabb01>", true},
		{"dashes", "phone 00-15-65-aa-bb-01", true},
		{"cisco dots", "id 0015.65aa.bb01", true},
		{"another phone", "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:02", false},
		{"longer hex run before", "x0001565aabb01", false},
		{"longer hex run after", "001565aabb0102", false},
		{"seven colon groups", "00:15:65:aa:bb:01:02", false},
		{"digits spread over tokens", "001565 aabb01", false},
		{"separators stripped across fields", "0.0.1.5.6.5.a.a.b.b.0.1", false},
		{"nothing", "sipp-harness", false},
		{"empty", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := directory.MACIn(tc.text, mac); got != tc.want {
				t.Errorf("MACIn(%q) = %v, want %v", tc.text, got, tc.want)
			}
		})
	}
	if directory.MACIn("00:15:65:aa:bb:01", "not a mac") {
		t.Error("an invalid MAC matched")
	}
}
