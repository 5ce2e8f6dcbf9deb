package discovery

import (
	"net"
	"slices"
	"strings"
	"testing"

	"deskgate/daemon/directory"
)

func TestNewValidates(t *testing.T) {
	db := testStore(t)
	dir := func() *directory.Snapshot { return nil }
	tests := []struct {
		name    string
		opts    Options
		wantErr string
	}{
		{"all off needs nothing", Options{}, ""},
		{"pnp needs store", Options{PnP: true, ProvisioningURL: "http://x/", Directory: dir}, "Store and Directory"},
		{"mdns needs directory", Options{MDNS: true, Store: db}, "Store and Directory"},
		{"pnp needs url", Options{PnP: true, Store: db, Directory: dir}, "provisioning URL"},
		{"url must be http", Options{MDNS: true, Store: db, Directory: dir, ProvisioningURL: "ftp://x/"}, "want http"},
		{"url needs host", Options{MDNS: true, Store: db, Directory: dir, ProvisioningURL: "http:///x"}, "want http"},
		{"bad pnp address", Options{PnP: true, Store: db, Directory: dir, ProvisioningURL: "http://x/", PnPAddr: "224.0.1.75"}, "PnP address"},
		{"ipv6 pnp address", Options{PnP: true, Store: db, Directory: dir, ProvisioningURL: "http://x/", PnPAddr: "[ff02::75]:5060"}, "PnP address"},
		{"negative period", Options{MDNS: true, Store: db, Directory: dir, BrowseEvery: -1}, "negative"},
		{"bad sip port", Options{MDNS: true, Store: db, Directory: dir, SIPPort: 70000}, "SIP port"},
		{"good", Options{MDNS: true, PnP: true, Store: db, Directory: dir, ProvisioningURL: "http://0.0.0.0:8080/", Site: "hq"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				if s.opts.BrowseEvery != DefaultBrowseEvery || s.opts.PnPAddr != DefaultPnPAddr || s.opts.SIPPort != DefaultSIPPort {
					t.Errorf("defaults not applied: %+v", s.opts)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestSelectInterfaces(t *testing.T) {
	up, mc, lo := net.FlagUp, net.FlagMulticast, net.FlagLoopback
	all := []net.Interface{
		{Index: 1, Name: "lo", Flags: up | lo},
		{Index: 2, Name: "eth0", Flags: up | mc},
		{Index: 3, Name: "eth1", Flags: mc},
		{Index: 4, Name: "wg0", Flags: up},
		{Index: 5, Name: "lomc", Flags: up | lo | mc},
	}
	tests := []struct {
		name    string
		want    []string
		got     []string
		wantErr string
	}{
		{name: "default: up, multicast, not loopback", want: nil, got: []string{"eth0"}},
		{name: "named", want: []string{"eth0"}, got: []string{"eth0"}},
		{name: "named loopback with multicast (test namespaces)", want: []string{"lomc"}, got: []string{"lomc"}},
		{name: "missing", want: []string{"eth9"}, wantErr: `"eth9" does not exist`},
		{name: "down", want: []string{"eth1"}, wantErr: `"eth1" is down`},
		{name: "no multicast", want: []string{"wg0"}, wantErr: "not multicast-capable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := selectInterfaces(tc.want, all)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !slices.Equal(names(got), tc.got) {
				t.Fatalf("got %v, %v; want %v", names(got), err, tc.got)
			}
		})
	}
}

func TestLabel(t *testing.T) {
	tests := []struct{ in, want string }{
		{"deskgate-hq-box1", "deskgate-hq-box1"},
		{"deskgate-HQ-box.example.com", "deskgate-hq-box-example-com"},
		{"deskgate-" + strings.Repeat("x", 80), "deskgate-" + strings.Repeat("x", 54)},
		{"--a--", "a"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			if got := label(tc.in); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAdverts(t *testing.T) {
	tests := []struct {
		name string
		url  string
		want []advert
	}{
		{"sip only without provisioning", "", []advert{
			{"_sip._udp", 5060, []string{"txtvers=1", "site=hq", "domain=hq.example.test", "transport=udp"}}}},
		{"http with unspecified host", "http://0.0.0.0:8080/", []advert{
			{"_sip._udp", 5060, []string{"txtvers=1", "site=hq", "domain=hq.example.test", "transport=udp", "provisioning=http://10.0.0.1:8080/"}},
			{"_http._tcp", 8080, []string{"txtvers=1", "site=hq", "domain=hq.example.test", "path=/", "url=http://10.0.0.1:8080/"}}}},
		{"https default port and path", "https://prov.example/p/", []advert{
			{"_sip._udp", 5060, []string{"txtvers=1", "site=hq", "domain=hq.example.test", "transport=udp", "provisioning=https://prov.example/p/"}},
			{"_https._tcp", 443, []string{"txtvers=1", "site=hq", "domain=hq.example.test", "path=/p/", "url=https://prov.example/p/"}}}},
		{"overlong url dropped from TXT", "http://x/" + strings.Repeat("a", 300), []advert{
			{"_sip._udp", 5060, []string{"txtvers=1", "site=hq", "domain=hq.example.test", "transport=udp"}},
			{"_http._tcp", 80, []string{"txtvers=1", "site=hq", "domain=hq.example.test"}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(Options{MDNS: true, Store: testStore(t), Directory: func() *directory.Snapshot { return nil },
				Site: "hq", Domain: "hq.example.test", ProvisioningURL: tc.url})
			if err != nil {
				t.Fatal(err)
			}
			got := s.adverts(net.ParseIP("10.0.0.1"))
			if len(got) != len(tc.want) {
				t.Fatalf("got %d adverts %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				if got[i].service != tc.want[i].service || got[i].port != tc.want[i].port || !slices.Equal(got[i].txt, tc.want[i].txt) {
					t.Errorf("advert %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
