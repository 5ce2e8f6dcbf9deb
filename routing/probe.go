package routing

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Probe tells whether the SIP stack still serves, for the systemd
// watchdog: an OPTIONS from our own client to our first listener crosses
// the transport read loop, the transaction layer and the request handler
// chain, and any answer before ctx ends proves they run. (A loop verdict
// such as 482 is an answer too.) It costs one request per watchdog period.
func (s *Server) Probe(ctx context.Context) error {
	if !s.up.Load() {
		return errors.New("sip stack not started")
	}
	l, ok := s.me.listener("udp")
	if !ok {
		l = s.me.listeners[0]
	}
	ip := l.addr.Addr()
	if ip.IsUnspecified() {
		ip = netip.MustParseAddr("127.0.0.1")
		if l.addr.Addr().Is6() {
			ip = netip.IPv6Loopback()
		}
	}
	host := ip.String()
	if ip.Is6() {
		host = "[" + host + "]"
	}
	u := sip.Uri{Scheme: "sip", Host: host, Port: int(l.addr.Port())}
	req := sip.NewRequest(sip.OPTIONS, u)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "watchdog", Host: s.opts.Domain}}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: u})
	req.SetTransport(strings.ToUpper(l.network))
	req.SetDestination(netip.AddrPortFrom(ip, l.addr.Port()).String())
	s.pinLocal(req)
	if _, err := s.cli.Do(ctx, req); err != nil {
		return fmt.Errorf("sip stack did not answer its own OPTIONS on %s: %w", l, err)
	}
	return nil
}
