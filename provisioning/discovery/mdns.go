package discovery

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/mdns"

	"deskgate/daemon/store"
)

// Which service types phones advertise, if any: no Yealink, Poly, Snom or
// Grandstream administrator guide or trace found (2026-11) says their desk
// phones announce a DNS-SD service; they locate servers with DHCP options,
// SIP PnP and DNS NAPTR/SRV instead (Aastra/Mitel phones *browse* mDNS for a
// TFTP server, they do not announce). So browsing covers the generic SIP
// types (_sip._udp, _sip._tcp; BrowseServices can add more) and the
// inventory mostly learns phones from PnP, provisioning requests and
// REGISTERs.
//
// hashicorp/mdns v1.0.7 limits (docs/libraries.md §2): its responder never announces
// and answers every query unicast to the querier; its browser sends one
// query per call and reports only complete entries (address, port and TXT),
// so a responder without TXT is never seen. Browsing asks for unicast
// answers, which also works around its receive sockets joining the group on
// the default interface only.

// mdnsLogger bridges the library's *log.Logger to slog at debug level: it
// logs routine things ("Failed to listen to both unicast and multicast on
// IPv6") as errors.
func (s *Service) mdnsLogger() *log.Logger {
	return slog.NewLogLogger(s.log.With("part", "mdns").Handler(), slog.LevelDebug)
}

// mdnsMaxEntries bounds the answers one query keeps.
const mdnsMaxEntries = 1024

// advert is one service deskgate announces.
type advert struct {
	service string
	port    int
	txt     []string
}

// adverts lists what deskgate advertises when reachable at ip (nil: the
// provisioning URL is left as configured): its SIP service, and the
// provisioning server with DNS-SD's "path" key (RFC 6763 / dns-sd.org
// service types) when a provisioning URL is configured.
func (s *Service) adverts(ip net.IP) []advert {
	base := []string{"txtvers=1", "site=" + s.opts.Site}
	if s.opts.Domain != "" {
		base = append(base, "domain="+s.opts.Domain)
	}
	sipTXT := append(append([]string(nil), base...), "transport=udp")
	out := []advert{{service: "_sip._udp", port: s.opts.SIPPort}}
	if s.provURL != nil {
		u := provisioningURL(s.provURL, ip)
		sipTXT = append(sipTXT, "provisioning="+u)
		service, port := "_http._tcp", 80
		if s.provURL.Scheme == "https" {
			service, port = "_https._tcp", 443
		}
		if p, err := strconv.Atoi(s.provURL.Port()); err == nil {
			port = p
		}
		path := orDefault(s.provURL.EscapedPath(), "/")
		httpTXT := append(append([]string(nil), base...), "path="+path, "url="+u)
		out = append(out, advert{service: service, port: port, txt: fitTXT(httpTXT)})
	}
	out[0].txt = fitTXT(sipTXT)
	return out
}

// fitTXT drops strings longer than a TXT string can hold (255 bytes).
func fitTXT(txt []string) []string {
	out := txt[:0]
	for _, t := range txt {
		if len(t) <= 255 {
			out = append(out, t)
		}
	}
	return out
}

// advertise starts one responder per interface and service. Each answers
// with the interface's own addresses (or AdvertiseIPs).
func (s *Service) advertise(ifaces []net.Interface) (func(), error) {
	var servers []*mdns.Server
	shutdown := func() {
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
	}
	logger := s.mdnsLogger()
	for _, ifi := range ifaces {
		ips := s.opts.AdvertiseIPs
		if len(ips) == 0 {
			ips = interfaceIPs(ifi)
		}
		if len(ips) == 0 {
			s.log.Warn("mdns: interface has no address to advertise", "iface", ifi.Name)
			continue
		}
		for _, a := range s.adverts(firstIPv4(ips)) {
			zone, err := mdns.NewMDNSService(s.instance, a.service, "", s.instance+".local.", a.port, ips, a.txt)
			if err == nil {
				var srv *mdns.Server
				srv, err = mdns.NewServer(&mdns.Config{Zone: zone, Iface: &ifi, Logger: logger})
				servers = append(servers, srv)
			}
			if err != nil {
				shutdown()
				return nil, fmt.Errorf("discovery: mdns advertise %s on %s: %w", a.service, ifi.Name, err)
			}
			s.log.Info("mdns advertising", "service", a.service, "iface", ifi.Name, "port", a.port)
		}
	}
	return shutdown, nil
}

func interfaceIPs(ifi net.Interface) []net.IP {
	addrs, err := ifi.Addrs()
	if err != nil {
		return nil
	}
	var out []net.IP
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			out = append(out, n.IP)
		}
	}
	return out
}

func firstIPv4(ips []net.IP) net.IP {
	for _, ip := range ips {
		if ip.To4() != nil {
			return ip
		}
	}
	if len(ips) > 0 {
		return ips[0]
	}
	return nil
}

// browseLoop browses now and then every BrowseEvery until ctx is done.
func (s *Service) browseLoop(ctx context.Context, ifaces []net.Interface) {
	t := time.NewTicker(s.opts.BrowseEvery)
	defer t.Stop()
	for {
		for _, ifi := range ifaces {
			for _, service := range s.opts.BrowseServices {
				if ctx.Err() != nil {
					return
				}
				s.query(ctx, ifi, service)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// query runs one mDNS query per address family on ifi and records the
// phones found. The library sends a query over IPv4 and IPv6 together and
// gives up on both when the IPv6 send fails (no IPv6 on the link, or its
// link-local address still tentative), so the families are queried apart
// and IPv6 failures are only logged at debug level.
//
// The entries are read only after the query has ended: the library keeps
// updating an entry it already sent as more records arrive (the race
// detector caught it), and it drops entries when the channel is full, hence
// the large buffer.
func (s *Service) query(ctx context.Context, ifi net.Interface, service string) {
	for _, v6 := range []bool{false, true} {
		ch := make(chan *mdns.ServiceEntry, mdnsMaxEntries)
		err := mdns.QueryContext(ctx, &mdns.QueryParam{
			Service: service, Domain: "local", Timeout: s.opts.BrowseTimeout, Interface: &ifi,
			Entries: ch, WantUnicastResponse: true, DisableIPv4: v6, DisableIPv6: !v6, Logger: s.mdnsLogger(),
		})
		close(ch) // the library sends only from inside QueryContext
		level := slog.LevelWarn
		if v6 {
			level = slog.LevelDebug
		}
		if err != nil && ctx.Err() == nil {
			s.log.Log(ctx, level, "mdns browse", "service", service, "iface", ifi.Name, "ipv6", v6, "error", err)
		}
		if len(ch) == cap(ch) {
			s.log.Warn("mdns browse: answers beyond the limit were dropped", "service", service, "iface", ifi.Name, "limit", cap(ch))
		}
		for e := range ch {
			s.seeEntry(e)
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// seeEntry records one browse answer in the inventory.
func (s *Service) seeEntry(e *mdns.ServiceEntry) {
	if strings.HasPrefix(e.Name, s.instance+".") {
		return // our own advert
	}
	ph := mdnsSighting(e.Name, e.Host, e.InfoFields, e.AddrV4, e.AddrV6IPAddr)
	if ph.MAC == "" {
		s.log.Debug("mdns entry without MAC skipped", "name", e.Name, "host", e.Host, "address", ph.Address)
		return
	}
	ph = ph.complete(s.snapshot())
	level := slog.LevelDebug // seen again every browse: only news at info
	if _, known, err := s.opts.Store.LookupPhone(ph.MAC); err == nil && !known {
		level = slog.LevelInfo
	}
	s.log.Log(context.Background(), level, "mdns phone seen", "mac", ph.MAC, "vendor", ph.Vendor, "model", ph.Model, "address", ph.Address)
	err := s.opts.Store.SeePhone(store.InventoryPhone{MAC: ph.MAC, Vendor: ph.Vendor, Model: ph.Model,
		Address: ph.Address, Source: "mdns", LastSeen: time.Now().UTC()})
	if err != nil {
		s.log.Error("mdns inventory write", "mac", ph.MAC, "error", err)
	}
}
