package daemon

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"

	"deskgate/daemon/config"
	"deskgate/daemon/directory"
	"deskgate/provisioning"
	"deskgate/provisioning/discovery"
)

// advertised returns the address phones are told to reach: sip.advertise,
// else the first concrete listen IP, else this box's first non-loopback
// IPv4 address; and the SIP port and transport of the first listener
// (bound: the listeners' real addresses).
func advertised(cfg *config.Config, bound []string) (host string, port int, transport string) {
	transport, ap, _ := config.ParseListen(cfg.SIP.Listen[0])
	if len(bound) > 0 { // the real port when the config says 0
		if _, b, err := config.ParseListen(bound[0]); err == nil {
			ap = b
		}
	}
	port = int(ap.Port())
	host = cfg.SIP.Advertise
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err == nil {
			host, port = h, n
		}
	}
	if host == "" && !ap.Addr().IsUnspecified() {
		host = ap.Addr().String()
	}
	if host == "" {
		host = firstLANAddr()
	}
	return host, port, transport
}

func firstLANAddr() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "127.0.0.1"
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil && p.Addr().Is4() && !p.Addr().IsLoopback() {
			return p.Addr().String()
		}
	}
	return "127.0.0.1"
}

// newProvisioning builds the HTTP provisioning server, or nil when
// provisioning.listen is "".
func (d *Daemon) newProvisioning(cfg *config.Config) (*provisioning.Server, error) {
	if cfg.Provisioning.Listen == "" {
		return nil, nil
	}
	host, port, transport := advertised(cfg, d.sip.Addrs())
	base := provisioningURL(cfg, host)
	srv, err := provisioning.New(provisioning.Options{
		Listen:    cfg.Provisioning.Listen,
		BaseURL:   base,
		Username:  cfg.Provisioning.Username,
		Password:  cfg.Provisioning.Password,
		Domain:    cfg.Domain,
		SIPServer: net.JoinHostPort(host, strconv.Itoa(port)),
		Transport: transport,
		Directory: d.dir.snapshot,
		Store:     d.db,
		Log:       d.log, // provisioning names its own component
	})
	if err != nil {
		return nil, fmt.Errorf("provisioning: %w", err)
	}
	return srv, nil
}

// provisioningURL is what phones are told to fetch their files from: the
// configured base_url, else the provisioning port on the advertised host.
func provisioningURL(cfg *config.Config, host string) string {
	if cfg.Provisioning.BaseURL != "" || cfg.Provisioning.Listen == "" {
		return cfg.Provisioning.BaseURL
	}
	_, pport, _ := net.SplitHostPort(cfg.Provisioning.Listen)
	return "http://" + net.JoinHostPort(host, pport) + "/"
}

// newDiscovery builds mDNS browsing/advertising and the SIP PnP responder,
// or nil when both are off.
func (d *Daemon) newDiscovery(cfg *config.Config) (*discovery.Service, error) {
	pnp := cfg.Discovery.PnP
	host, port, _ := advertised(cfg, d.sip.Addrs())
	url := provisioningURL(cfg, host)
	if pnp && url == "" {
		d.log.Warn("SIP plug-and-play is off: provisioning is disabled, so there is no URL to hand out")
		pnp = false
	}
	if !cfg.Discovery.MDNS && !pnp {
		return nil, nil
	}
	var ips []net.IP
	if ip := net.ParseIP(host); ip != nil && !ip.IsUnspecified() && cfg.SIP.Advertise != "" {
		ips = []net.IP{ip}
	}
	svc, err := discovery.New(discovery.Options{
		Interfaces:      cfg.Discovery.Interfaces,
		MDNS:            cfg.Discovery.MDNS,
		PnP:             pnp,
		Site:            cfg.Site,
		Domain:          cfg.Domain,
		SIPPort:         port,
		ProvisioningURL: url,
		AdvertiseIPs:    ips,
		Directory:       d.dir.snapshot,
		Store:           d.db,
		Log:             d.log.With("component", "discovery"),
	})
	if err != nil {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	return svc, nil
}

// checkSyncAffected tells the phones whose configuration a directory change
// alters to re-fetch it (NOTIFY check-sync). CheckSync only queues, so the
// swap is not held up.
func (d *Daemon) checkSyncAffected(old, cur *directory.Snapshot) {
	if old == nil || len(old.Phones()) == 0 {
		return // first load: phones fetch their files when they boot
	}
	if macs := provisioning.Affected(old, cur); len(macs) > 0 {
		d.log.Info("directory change alters phones' configuration; sending check-sync", "macs", macs, "count", len(macs))
		d.sip.CheckSync(context.Background(), macs)
	}
}
