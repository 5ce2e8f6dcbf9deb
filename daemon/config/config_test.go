package config

import (
	"strings"
	"testing"
	"time"
)

const minimal = "domain: hq.example.test\n"

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		wantErr []string // substrings, all must appear
		check   func(t *testing.T, c *Config)
	}{
		{name: "minimal gets defaults", yaml: minimal, check: func(t *testing.T, c *Config) {
			if c.SIP.RegisterMaxExpires != 3600 || c.SIP.RegisterMinExpires != 60 {
				t.Errorf("expires defaults: %+v", c.SIP)
			}
			if c.Directory.API.PollInterval.D() != 30*time.Second {
				t.Errorf("poll_interval default: %v", c.Directory.API.PollInterval.D())
			}
			if c.FeatureCodes.DNDOn != "*78" || c.Control.Socket != DefaultSocket || c.StateDir != DefaultStateDir {
				t.Errorf("defaults: %+v", c)
			}
			if got := strings.Join(c.SIP.AuthAlgorithms, ","); got != "MD5" {
				t.Errorf("auth algorithms %s, want MD5 only (baresip aborts on SHA-256)", got)
			}
		}},
		{name: "full example", yaml: `site: hq
domain: hq.example.test
state_dir: /tmp/x
sip:
  listen: ["udp:127.0.0.1:5060", "tcp:[::1]:5060"]
  advertise: "192.0.2.1"
  register_max_expires: 600
  register_min_expires: 30
provisioning: {listen: "127.0.0.1:8080", base_url: "", username: a, password: b}
discovery: {mdns: false, interfaces: [eth0], pnp: false}
directory:
  file: /etc/deskgate/office.yaml
  api: {url: "https://cloud.example/v1/sites/hq/directory", token_file: /etc/deskgate/token, poll_interval: 10s}
trunk: {address: "pbx.example:5060", transport: tcp, trusted: ["198.51.100.0/24"], username: u, password: p}
feature_codes: {dnd_on: "*1", dnd_off: "*2", away_on: "*3", away_off: "*4"}
control: {socket: /tmp/s.sock}
log: {level: debug}
`, check: func(t *testing.T, c *Config) {
			if c.Directory.API.PollInterval.D() != 10*time.Second || c.Trunk.Transport != "tcp" || c.Discovery.MDNS {
				t.Errorf("parsed: %+v", c)
			}
			if p := c.TrustedPrefixes(); len(p) != 1 || p[0].String() != "198.51.100.0/24" {
				t.Errorf("trusted: %v", p)
			}
		}},
		{name: "unknown key names line", yaml: minimal + "sip:\n  listn: []\n", wantErr: []string{"line 3", "listn"}},
		{name: "second document", yaml: minimal + "---\nsite: x\n", wantErr: []string{"more than one"}},
		{name: "empty", yaml: "", wantErr: []string{"empty"}},
		{name: "missing domain", yaml: "site: hq\n", wantErr: []string{"domain: required"}},
		{name: "bad listen", yaml: minimal + "sip: {listen: [\"sctp:1.2.3.4:5060\", \"udp:nohost\"]}\n",
			wantErr: []string{`sip.listen[0]`, `sip.listen[1]`}},
		{name: "bad duration", yaml: minimal + "directory: {api: {poll_interval: soon}}\n", wantErr: []string{"line 2"}},
		{name: "bad expires", yaml: minimal + "sip: {register_min_expires: 100, register_max_expires: 50}\n",
			wantErr: []string{"register_min_expires"}},
		{name: "several problems at once", yaml: minimal + "log: {level: loud}\ntrunk: {transport: sctp, trusted: [nope]}\n",
			wantErr: []string{"log.level", "trunk.transport", "trunk.trusted[0]"}},
		{name: "duplicate feature code", yaml: minimal + "feature_codes: {dnd_on: \"*78\", dnd_off: \"*78\"}\n",
			wantErr: []string{"used twice"}},
		{name: "api url scheme", yaml: minimal + "directory: {api: {url: ftp://x}}\n", wantErr: []string{"directory.api.url"}},
		{name: "sha-256 on request", yaml: minimal + "sip: {auth_algorithms: [SHA-256, MD5]}\n", check: func(t *testing.T, c *Config) {
			if got := strings.Join(c.SIP.AuthAlgorithms, ","); got != "SHA-256,MD5" {
				t.Errorf("auth algorithms %s (routing puts MD5 first)", got)
			}
		}},
		{name: "auth algorithm", yaml: minimal + "sip: {auth_algorithms: [SHA-1]}\n", wantErr: []string{"SHA-1"}},
		{name: "provisioning auth half set", yaml: minimal + "provisioning: {username: a}\n", wantErr: []string{"together"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml))
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("Parse succeeded, want error containing %q", tt.wantErr)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not contain %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("domain: x\nsip: {listen: [\"udp:127.0.0.1:0\"]}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse(b)
		if err == nil && len(c.Validate()) != 0 {
			t.Fatalf("accepted an invalid config")
		}
	})
}
