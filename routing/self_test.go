package routing

import (
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
)

func TestIsMe(t *testing.T) {
	me := &self{
		domain: "test.example", advHost: "gw.test.example", advPort: 0,
		listeners: []listenSpec{
			{"udp", netip.MustParseAddrPort("192.0.2.1:5060")},
			{"tcp", netip.MustParseAddrPort("0.0.0.0:5070")},
		},
		local: []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.51.100.7")},
	}
	tests := []struct {
		host string
		port int
		want bool
	}{
		{"test.example", 0, true},
		{"TEST.example", 9999, true},
		{"gw.test.example", 0, true},
		{"gw.test.example", 5070, true},
		{"gw.test.example", 5999, false},
		{"192.0.2.1", 5060, true},
		{"192.0.2.1", 0, true},
		{"192.0.2.1", 5070, false}, // the TCP listener is a wildcard on 5070: 192.0.2.1 is not local
		{"198.51.100.7", 5070, true},
		{"127.0.0.1", 5070, true},
		{"127.0.0.1", 5060, false},
		{"198.51.100.7", 0, false}, // default port 5060: no wildcard listener there
		{"[::ffff:192.0.2.1]", 5060, true},
		{"example.com", 5060, false},
		{"", 5060, false},
	}
	for _, tc := range tests {
		if got := me.isMe(sip.Uri{Host: tc.host, Port: tc.port}); got != tc.want {
			t.Errorf("isMe(%s:%d) = %v, want %v", tc.host, tc.port, got, tc.want)
		}
	}
}

func TestParseListen(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"udp:127.0.0.1:5060", "udp:127.0.0.1:5060", true},
		{"TCP:[::1]:5070", "tcp:[::1]:5070", true},
		{"udp:0.0.0.0:0", "udp:0.0.0.0:0", true},
		{"tls:127.0.0.1:5061", "", false},
		{"udp:localhost:5060", "", false},
		{"127.0.0.1:5060", "", false},
		{"udp:127.0.0.1", "", false},
	}
	for _, tc := range tests {
		got, err := parseListen(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got.String() != tc.want) {
			t.Errorf("parseListen(%q) = %v, %v; want %q ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
	}
}

func TestParseAdvertise(t *testing.T) {
	tests := []struct {
		in   string
		host string
		port int
	}{
		{"", "", 0},
		{"203.0.113.5", "203.0.113.5", 0},
		{"203.0.113.5:5080", "203.0.113.5", 5080},
		{"GW.example:5062", "gw.example", 5062},
		{"[2001:db8::1]:5060", "2001:db8::1", 5060},
		{"2001:db8::1", "2001:db8::1", 0},
	}
	for _, tc := range tests {
		h, p := parseAdvertise(tc.in)
		if h != tc.host || p != tc.port {
			t.Errorf("parseAdvertise(%q) = %q %d, want %q %d", tc.in, h, p, tc.host, tc.port)
		}
	}
}
