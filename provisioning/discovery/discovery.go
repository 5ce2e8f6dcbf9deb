// Package discovery owns finding desk phones on the LAN and telling them
// where deskgate is: mDNS browsing (phones recorded in the store's
// inventory, source "mdns") and advertising deskgate's SIP and provisioning
// services with hashicorp/mdns, and the SIP plug-and-play responder
// (SUBSCRIBE Event: ua-profile on 224.0.1.75:5060, answered with a NOTIFY
// carrying the provisioning URL for directory phones; source "pnp"). It
// imports only daemon/directory, daemon/store, sipgo and mdns: never
// routing, provisioning or the daemon.
package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// Defaults for Options' zero values.
const (
	DefaultPnPAddr       = "224.0.1.75:5060"
	DefaultBrowseEvery   = 5 * time.Minute
	DefaultBrowseTimeout = 2 * time.Second
	DefaultSIPPort       = 5060
)

// Options configures a Service. Zero values get the defaults above.
type Options struct {
	Interfaces      []string // names; default: every up, multicast-capable, non-loopback interface
	MDNS, PnP       bool     // which halves run
	Site, Domain    string   // advertised in mDNS TXT records
	SIPPort         int      // advertised _sip._udp port; default 5060
	ProvisioningURL string   // told to phones; required for PnP; an unspecified host (0.0.0.0) becomes the local address
	AdvertiseIPs    []net.IP // A/AAAA records of the adverts; default: the interface's own addresses
	Directory       func() *directory.Snapshot
	Store           *store.DB
	Log             *slog.Logger
	BrowseEvery     time.Duration // mDNS browse period (also once at start); default 5m
	BrowseTimeout   time.Duration // how long one mDNS query listens; default 2s
	BrowseServices  []string      // default _sip._udp and _sip._tcp
	PnPAddr         string        // default 224.0.1.75:5060; a unicast address (tests) is bound as is
}

// Service runs mDNS and SIP PnP discovery. Create it with New, run it with Run.
type Service struct {
	opts     Options
	log      *slog.Logger
	provURL  *url.URL // nil when no provisioning URL is configured
	pnpGroup *net.UDPAddr
	instance string // mDNS instance name, also the host label

	mu      sync.Mutex
	pnpAddr net.Addr
}

// New checks opts and returns a Service; nothing is opened until Run.
func New(opts Options) (*Service, error) {
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	if (opts.MDNS || opts.PnP) && (opts.Store == nil || opts.Directory == nil) {
		return nil, errors.New("discovery: Store and Directory are required")
	}
	opts.SIPPort = orDefault(opts.SIPPort, DefaultSIPPort)
	opts.BrowseEvery = orDefault(opts.BrowseEvery, DefaultBrowseEvery)
	opts.BrowseTimeout = orDefault(opts.BrowseTimeout, DefaultBrowseTimeout)
	opts.PnPAddr = orDefault(opts.PnPAddr, DefaultPnPAddr)
	if len(opts.BrowseServices) == 0 {
		opts.BrowseServices = []string{"_sip._udp", "_sip._tcp"}
	}
	if opts.BrowseEvery < 0 || opts.BrowseTimeout < 0 || opts.SIPPort < 0 || opts.SIPPort > 65535 {
		return nil, errors.New("discovery: negative duration or bad SIP port")
	}
	s := &Service{opts: opts, log: opts.Log}
	if opts.ProvisioningURL != "" {
		u, err := url.Parse(opts.ProvisioningURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("discovery: provisioning URL %q: want http(s)://host[:port]/path", opts.ProvisioningURL)
		}
		s.provURL = u
	} else if opts.PnP {
		return nil, errors.New("discovery: SIP PnP needs a provisioning URL to hand out")
	}
	group, err := net.ResolveUDPAddr("udp4", opts.PnPAddr)
	if err != nil || group.IP == nil || (group.Port == 0 && group.IP.IsMulticast()) {
		return nil, fmt.Errorf("discovery: PnP address %q: want ipv4:port", opts.PnPAddr)
	}
	s.pnpGroup = group
	host, _ := os.Hostname()
	s.instance = label("deskgate-" + orDefault(opts.Site, "site") + "-" + host)
	return s, nil
}

// orDefault returns v, or def when v is the zero value.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// label makes s a DNS label: [a-z0-9-], at most 63 bytes.
func label(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := b.String()
	if len(out) > 63 {
		out = out[:63]
	}
	return strings.Trim(out, "-")
}

// PnPAddr is the bound PnP socket's address once Run has called ready;
// nil before, or when PnP is off or idle.
func (s *Service) PnPAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pnpAddr
}

func (s *Service) snapshot() *directory.Snapshot {
	if s.opts.Directory == nil {
		return nil
	}
	return s.opts.Directory()
}

// Run opens the PnP socket and the mDNS responders, calls ready (if not
// nil) once they listen, then browses at start and every BrowseEvery until
// ctx is done; it returns nil then. Errors opening sockets (a named
// interface missing, port 5060 held by a socket without SO_REUSEADDR) are
// returned before ready. With no usable interface and no explicit ones it
// logs a warning and stays idle: a box without multicast still routes calls.
func (s *Service) Run(ctx context.Context, ready func()) error {
	all, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("discovery: list interfaces: %w", err)
	}
	ifaces, err := selectInterfaces(s.opts.Interfaces, all)
	if err != nil {
		return fmt.Errorf("discovery: %w", err)
	}
	multicastPnP := s.opts.PnP && s.pnpGroup.IP.IsMulticast()
	if len(ifaces) == 0 && (s.opts.MDNS || multicastPnP) {
		s.log.Warn("discovery idle: no up, multicast-capable, non-loopback interface")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if s.opts.PnP && (len(ifaces) > 0 || !multicastPnP) {
		conn, err := s.listenPnP(ifaces)
		if err != nil {
			return err
		}
		srv := newPNPServer(s, conn)
		wg.Add(1)
		go func() { defer wg.Done(); srv.serve(ctx) }()
	}
	mdnsOn := s.opts.MDNS && len(ifaces) > 0
	if mdnsOn {
		shutdown, err := s.advertise(ifaces)
		if err != nil {
			return err
		}
		defer shutdown()
	}
	if ready != nil {
		ready()
	}
	if mdnsOn {
		s.browseLoop(ctx, ifaces)
	}
	<-ctx.Done()
	return nil
}

// listenPnP opens the PnP socket: joined to the group on every interface,
// or plainly bound when PnPAddr is unicast (tests on loopback).
func (s *Service) listenPnP(ifaces []net.Interface) (net.PacketConn, error) {
	var conn net.PacketConn
	var err error
	if s.pnpGroup.IP.IsMulticast() {
		conn, err = listenGroup(s.pnpGroup, ifaces)
	} else {
		conn, err = net.ListenUDP("udp4", s.pnpGroup)
	}
	if err != nil {
		return nil, fmt.Errorf("discovery: sip pnp: %w", err)
	}
	s.mu.Lock()
	s.pnpAddr = conn.LocalAddr()
	s.mu.Unlock()
	s.log.Info("sip pnp listening", "address", s.pnpGroup.String(), "interfaces", names(ifaces))
	return conn, nil
}

// selectInterfaces picks the interfaces to work on: the named ones (each
// must exist, be up and multicast-capable), or by default every up,
// multicast-capable, non-loopback one.
func selectInterfaces(want []string, all []net.Interface) ([]net.Interface, error) {
	usable := func(ifi net.Interface) bool {
		return ifi.Flags&net.FlagUp != 0 && ifi.Flags&net.FlagMulticast != 0
	}
	if len(want) == 0 {
		var out []net.Interface
		for _, ifi := range all {
			if usable(ifi) && ifi.Flags&net.FlagLoopback == 0 {
				out = append(out, ifi)
			}
		}
		return out, nil
	}
	out := make([]net.Interface, 0, len(want))
	for _, name := range want {
		i := indexByName(all, name)
		switch {
		case i < 0:
			return nil, fmt.Errorf("interface %q does not exist", name)
		case !usable(all[i]):
			return nil, fmt.Errorf("interface %q is down or not multicast-capable", name)
		}
		out = append(out, all[i])
	}
	return out, nil
}

func indexByName(all []net.Interface, name string) int {
	for i, ifi := range all {
		if ifi.Name == name {
			return i
		}
	}
	return -1
}

func names(ifaces []net.Interface) []string {
	out := make([]string, len(ifaces))
	for i, ifi := range ifaces {
		out[i] = ifi.Name
	}
	return out
}
