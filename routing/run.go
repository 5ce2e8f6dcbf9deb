package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"golang.org/x/sync/errgroup"

	"deskgate/routing/fork"
)

// Run binds every listener, loads the persisted bindings, calls ready once
// everything is serving, and serves until ctx is done; then it waits up to
// DrainTimeout for requests in progress and closes the transports.
func (s *Server) Run(ctx context.Context, ready func()) error {
	var ls []boundListener
	for _, spec := range s.specs {
		b, err := bind(spec)
		if err != nil {
			for _, l := range ls {
				l.close()
			}
			return err
		}
		ls = append(ls, b)
	}
	if err := s.setup(ctx, ls); err != nil {
		for _, l := range ls {
			l.close()
		}
		return err
	}
	if err := s.bindings.Load(s.now()); err != nil {
		s.closeAll(ls)
		return err
	}
	if err := s.subs.Load(s.now()); err != nil {
		s.closeAll(ls)
		return err
	}
	feed, stopFeed := s.presence.Subscribe(0)
	defer stopFeed()
	g, gctx := errgroup.WithContext(ctx)
	for _, l := range ls {
		g.Go(func() error { return s.serve(l) })
	}
	if err := s.waitListening(ctx, ls); err != nil {
		s.closeAll(ls)
		_ = g.Wait()
		return err
	}
	g.Go(func() error { s.sweepLoop(gctx); return nil })
	g.Go(func() error { s.loadLoop(gctx); return nil })
	g.Go(func() error { s.trunkRegisterLoop(gctx); return nil })
	g.Go(func() error { s.presenceLoop(gctx, feed); return nil })
	s.subs.Resume()
	s.log.Info("sip listening", "addrs", strings.Join(s.Addrs(), " "), "domain", s.opts.Domain)
	if ready != nil {
		ready()
	}
	<-gctx.Done()
	// One budget for the whole stop, shorter than the daemon's own grace, so
	// the store is never closed under a handler or sender still writing.
	deadline := time.Now().Add(s.opts.DrainTimeout)
	if !s.active.stop(deadline) {
		s.log.Warn("sip handlers still running at shutdown", "waited", s.opts.DrainTimeout)
	}
	if !s.senders.stop(deadline) {
		s.log.Warn("NOTIFYs still in flight at shutdown", "waited", s.opts.DrainTimeout)
	}
	s.closeAll(ls)
	err := g.Wait()
	if ctx.Err() != nil {
		return nil // cancellation is a clean stop
	}
	return err
}

// setup builds the sipgo stack once the real listen addresses are known.
func (s *Server) setup(ctx context.Context, ls []boundListener) error {
	bound := make([]listenSpec, len(ls))
	for i, l := range ls {
		bound[i] = l.spec
	}
	advHost, advPort := parseAdvertise(s.opts.Advertise)
	me := &self{domain: s.opts.Domain, advHost: advHost, advPort: advPort, listeners: bound, local: localIPs()}
	sipLog := slog.New(sipgoHandler{s.opts.Log.Handler(), s.junk}).With("component", "sipgo")
	uaOpts := []sipgo.UserAgentOption{
		sipgo.WithUserAgent("deskgate"),
		sipgo.WithUserAgentHostname(s.opts.Domain),
		sipgo.WithUserAgentTransactionLayerOptions(
			sip.WithTransactionLayerLogger(sipLog),
			sip.WithTransactionLayerUnhandledResponseHandler(s.unmatchedResponse),
		),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(sipLog),
			sip.WithTransportLayerReadFilter(s.readFilter)),
	}
	if s.resolver != nil {
		uaOpts = append(uaOpts, sipgo.WithUserAgentDNSResolver(s.resolver))
	}
	ua, err := sipgo.NewUA(uaOpts...)
	if err != nil {
		return fmt.Errorf("sip user agent: %w", err)
	}
	// Via sent-by and sipgo's Record-Route host. The port is left to each
	// connection's local address (right for UDP and TCP alike) unless the
	// advertised address names one.
	host, _, _ := me.hostPort(bound[0].network)
	copts := []sipgo.ClientOption{sipgo.WithClientHostname(strings.Trim(host, "[]")), sipgo.WithClientLogger(sipLog)}
	if advPort != 0 {
		copts = append(copts, sipgo.WithClientPort(advPort))
	}
	cli, err := sipgo.NewClient(ua, copts...)
	if err != nil {
		_ = ua.Close()
		return fmt.Errorf("sip client: %w", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(sipLog))
	if err != nil {
		_ = ua.Close()
		return fmt.Errorf("sip server: %w", err)
	}
	s.ua, s.cli, s.srv, s.me, s.ctx = ua, cli, srv, me, ctx
	s.parser = sip.NewParser()
	for _, l := range ls {
		if l.pc != nil {
			s.udp = append(s.udp, &udpSocket{laddr: l.pc.LocalAddr(), pc: l.pc})
		}
	}
	s.tcp.attach(ua.TransportLayer())
	s.fork = fork.New(s.forkOptions())
	s.routes(srv)
	s.mu.Lock()
	s.bound = bound
	s.mu.Unlock()
	// Published last: CheckSync, called from the daemon's goroutines, reads
	// the fields above only after it sees up (the atomic orders the writes).
	s.up.Store(true)
	return nil
}

func (s *Server) serve(l boundListener) error {
	var err error
	if l.pc != nil {
		err = s.srv.ServeUDP(l.pc)
	} else {
		err = s.srv.ServeTCP(s.tcp.listener(l.ln))
	}
	if err != nil && !errors.Is(err, net.ErrClosed) && s.ctx.Err() == nil {
		return fmt.Errorf("serve %s: %w", l.spec, err)
	}
	return nil
}

// waitListening waits until sipgo has registered every listener's port:
// its GetListenPort reads that map without a lock (docs/libraries.md P9), so nothing
// may be sent before all are in.
func (s *Server) waitListening(ctx context.Context, ls []boundListener) error {
	want := map[string]int{}
	for _, l := range ls {
		want[l.spec.network]++
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok := true
		for network, n := range want {
			if len(s.ua.TransportLayer().ListenPorts(network)) < min(n, 1) {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("sip listeners did not start within 5s")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

func (s *Server) closeAll(ls []boundListener) {
	for _, l := range ls {
		l.close()
	}
	s.tcp.stop()
	if s.ua != nil {
		_ = s.ua.Close()
	}
}

// sweepLoop expires bindings and forgets old throttle and call entries.
func (s *Server) sweepLoop(ctx context.Context) {
	t := time.NewTicker(s.opts.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.now()
		if n, err := s.bindings.Sweep(now); err != nil {
			s.log.Error("binding sweep", "error", err)
		} else if n > 0 {
			s.log.Debug("bindings expired", "count", n)
		}
		s.throttle.Sweep(now)
		s.calls.sweep(now)
		s.sweepSubscriptions(now)
	}
}
