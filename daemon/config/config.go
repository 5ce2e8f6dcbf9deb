// Package config owns deskgate.yaml, the appliance configuration: its schema,
// defaults, strict parsing and validation. It is pure (no I/O beyond the bytes
// handed to Parse) and imports nothing of deskgate's.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Default paths of the packaged appliance (docs/spec.md §1).
const (
	DefaultPath      = "/etc/deskgate/deskgate.yaml"
	DefaultStateDir  = "/var/lib/deskgate"
	DefaultSocket    = "/run/deskgate/control.sock"
	DefaultDirectory = "/etc/deskgate/office.yaml"
)

// Duration is a time.Duration written as a Go duration string ("30s").
type Duration time.Duration

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// UnmarshalYAML accepts a Go duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return fmt.Errorf("line %d: duration must be a string like \"30s\"", n.Line)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

// Config is deskgate.yaml (docs/spec.md §2).
type Config struct {
	Site         string       `yaml:"site"`
	Domain       string       `yaml:"domain"`
	StateDir     string       `yaml:"state_dir"`
	SIP          SIP          `yaml:"sip"`
	Provisioning Provisioning `yaml:"provisioning"`
	Discovery    Discovery    `yaml:"discovery"`
	Directory    Directory    `yaml:"directory"`
	Trunk        Trunk        `yaml:"trunk"`
	FeatureCodes FeatureCodes `yaml:"feature_codes"`
	Control      Control      `yaml:"control"`
	Log          Log          `yaml:"log"`
}

// SIP is the registrar/proxy section.
type SIP struct {
	Listen             []string `yaml:"listen"`
	Advertise          string   `yaml:"advertise"`
	RegisterMaxExpires int      `yaml:"register_max_expires"`
	RegisterMinExpires int      `yaml:"register_min_expires"`
	AuthAlgorithms     []string `yaml:"auth_algorithms"`
}

// Provisioning is the HTTP provisioning server section.
type Provisioning struct {
	Listen   string `yaml:"listen"`
	BaseURL  string `yaml:"base_url"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Discovery is the mDNS / SIP PnP section.
type Discovery struct {
	MDNS       bool     `yaml:"mdns"`
	Interfaces []string `yaml:"interfaces"`
	PnP        bool     `yaml:"pnp"`
}

// Directory says where the office directory comes from.
type Directory struct {
	File string `yaml:"file"`
	API  API    `yaml:"api"`
}

// API is the upstream directory API.
type API struct {
	URL          string   `yaml:"url"`
	TokenFile    string   `yaml:"token_file"`
	PollInterval Duration `yaml:"poll_interval"`
}

// Trunk is the optional upstream SIP trunk.
type Trunk struct {
	Address   string   `yaml:"address"`
	Transport string   `yaml:"transport"`
	Trusted   []string `yaml:"trusted"`
	Username  string   `yaml:"username"`
	Password  string   `yaml:"password"`
}

// FeatureCodes are the dial codes handled by the daemon itself.
type FeatureCodes struct {
	DNDOn   string `yaml:"dnd_on"`
	DNDOff  string `yaml:"dnd_off"`
	AwayOn  string `yaml:"away_on"`
	AwayOff string `yaml:"away_off"`
}

// Control is the local control API.
type Control struct {
	Socket string `yaml:"socket"`
}

// Log configures logging.
type Log struct {
	Level string `yaml:"level"`
}

// Default returns the configuration used for every key the file leaves out.
func Default() Config {
	return Config{
		StateDir: DefaultStateDir,
		SIP: SIP{
			Listen:             []string{"udp:0.0.0.0:5060", "tcp:0.0.0.0:5060"},
			RegisterMaxExpires: 3600,
			RegisterMinExpires: 60,
			AuthAlgorithms:     []string{"MD5"}, // clients that know no SHA-256 abort on its challenge
		},
		Provisioning: Provisioning{Listen: "0.0.0.0:8080"},
		Discovery:    Discovery{MDNS: true, PnP: true},
		Directory: Directory{
			File: DefaultDirectory,
			API:  API{PollInterval: Duration(30 * time.Second)},
		},
		Trunk:        Trunk{Transport: "udp"},
		FeatureCodes: FeatureCodes{DNDOn: "*78", DNDOff: "*79", AwayOn: "*45", AwayOff: "*46"},
		Control:      Control{Socket: DefaultSocket},
		Log:          Log{Level: "info"},
	}
}

// Parse decodes deskgate.yaml strictly (unknown keys and extra documents are
// errors) over the defaults, then validates it. A validation error lists every
// problem, one a line.
func Parse(data []byte) (*Config, error) {
	cfg := Default()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("configuration is empty")
		}
		return nil, fmt.Errorf("parse configuration: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("parse configuration: more than one YAML document")
	}
	if probs := cfg.Validate(); len(probs) > 0 {
		return nil, &Error{Problems: probs}
	}
	return &cfg, nil
}

// Error lists every problem found in a configuration.
type Error struct{ Problems []string }

func (e *Error) Error() string { return strings.Join(e.Problems, "\n") }

// Validate returns every problem of the configuration, one sentence each.
func (c *Config) Validate() []string {
	var p []string
	add := func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) }
	if c.Domain == "" {
		add("domain: required (the SIP domain and digest realm)")
	}
	if len(c.SIP.Listen) == 0 {
		add("sip.listen: at least one address is required")
	}
	for i, l := range c.SIP.Listen {
		if _, _, err := ParseListen(l); err != nil {
			add("sip.listen[%d] %q: %v", i, l, err)
		}
	}
	if c.SIP.RegisterMinExpires <= 0 || c.SIP.RegisterMaxExpires < c.SIP.RegisterMinExpires {
		add("sip.register_min_expires (%d) must be > 0 and <= sip.register_max_expires (%d)",
			c.SIP.RegisterMinExpires, c.SIP.RegisterMaxExpires)
	}
	for _, a := range c.SIP.AuthAlgorithms {
		if a != "MD5" && a != "SHA-256" {
			add("sip.auth_algorithms: %q is not MD5 or SHA-256", a)
		}
	}
	if len(c.SIP.AuthAlgorithms) == 0 {
		add("sip.auth_algorithms: at least one of MD5, SHA-256")
	}
	if c.Provisioning.Listen != "" {
		if _, err := netip.ParseAddrPort(c.Provisioning.Listen); err != nil {
			add("provisioning.listen %q: want ip:port: %v", c.Provisioning.Listen, err)
		}
	}
	if (c.Provisioning.Username == "") != (c.Provisioning.Password == "") {
		add("provisioning.username and provisioning.password must be set together")
	}
	if c.Directory.API.URL == "" && c.Directory.File == "" {
		add("directory: set file or api.url")
	}
	if u := c.Directory.API.URL; u != "" {
		if !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			add("directory.api.url %q: must be an http:// or https:// URL", u)
		}
		if c.Directory.API.PollInterval.D() < time.Second {
			add("directory.api.poll_interval: must be at least 1s")
		}
	}
	c.validateTrunk(add)
	fc := []string{c.FeatureCodes.DNDOn, c.FeatureCodes.DNDOff, c.FeatureCodes.AwayOn, c.FeatureCodes.AwayOff}
	seen := map[string]bool{}
	for _, code := range fc {
		if !strings.HasPrefix(code, "*") || len(code) < 2 {
			add("feature_codes: %q must start with * and have at least one more character", code)
		}
		if seen[code] {
			add("feature_codes: %q is used twice", code)
		}
		seen[code] = true
	}
	if c.Control.Socket == "" {
		add("control.socket: required")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		add("log.level %q: want debug, info, warn or error", c.Log.Level)
	}
	return p
}

func (c *Config) validateTrunk(add func(string, ...any)) {
	t := c.Trunk
	if t.Address != "" {
		if _, port, err := splitHostPort(t.Address); err != nil || port == 0 {
			add("trunk.address %q: want host:port", t.Address)
		}
	}
	if t.Transport != "udp" && t.Transport != "tcp" {
		add("trunk.transport %q: want udp or tcp", t.Transport)
	}
	for i, cidr := range t.Trusted {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			add("trunk.trusted[%d] %q: not a CIDR: %v", i, cidr, err)
		}
	}
	if t.Username != "" && t.Address == "" {
		add("trunk.username: set but trunk.address is empty")
	}
}

// ParseListen splits "udp:127.0.0.1:5060" into transport and address.
func ParseListen(s string) (transport string, addr netip.AddrPort, err error) {
	tr, rest, ok := strings.Cut(s, ":")
	if !ok {
		return "", addr, errors.New("want transport:ip:port, e.g. udp:0.0.0.0:5060")
	}
	if tr != "udp" && tr != "tcp" {
		return "", addr, fmt.Errorf("transport %q: want udp or tcp", tr)
	}
	addr, err = netip.ParseAddrPort(rest)
	if err != nil {
		return "", addr, fmt.Errorf("address %q: want ip:port ([::1]:5060 for IPv6)", rest)
	}
	return tr, addr, nil
}

// TrustedPrefixes returns trunk.trusted parsed (Validate has checked them).
func (c *Config) TrustedPrefixes() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.Trunk.Trusted {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
		}
	}
	return out
}

func splitHostPort(s string) (string, int, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return "", 0, errors.New("missing port")
	}
	port, err := strconv.Atoi(s[i+1:])
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, errors.New("bad port")
	}
	return strings.Trim(s[:i], "[]"), port, nil
}
