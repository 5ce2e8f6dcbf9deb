package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
)

// RFC 3261 timers for the NOTIFY's non-INVITE client transaction over UDP.
const (
	sipT1         = 500 * time.Millisecond
	sipT2         = 4 * time.Second
	notifyTimeout = 64 * sipT1 // Timer F
)

// Per-source PnP limits: a booting phone sends a handful of SUBSCRIBEs
// (Grandstream: five; others retransmit on T1 until answered).
const (
	pnpBurst        = 10
	pnpRefill       = 3 * time.Second // one more datagram per source this often
	pnpMaxSources   = 4096
	pnpMaxExchanges = 32 // NOTIFY transactions in flight
	pnpMaxTx        = 4096
)

// pnpServer answers SIP PnP SUBSCRIBEs arriving on conn.
type pnpServer struct {
	conn  net.PacketConn
	svc   *Service
	log   *slog.Logger
	lim   *limiter
	txs   *txCache
	slots chan struct{}
	wg    sync.WaitGroup
}

func newPNPServer(svc *Service, conn net.PacketConn) *pnpServer {
	return &pnpServer{
		conn: conn, svc: svc, log: svc.log.With("part", "pnp"),
		lim:   newLimiter(pnpBurst, pnpRefill, pnpMaxSources),
		txs:   newTxCache(64*sipT1, pnpMaxTx),
		slots: make(chan struct{}, pnpMaxExchanges),
	}
}

// serve reads datagrams until ctx is done, then waits for the exchanges
// in flight (they stop on ctx too).
func (p *pnpServer) serve(ctx context.Context) {
	defer p.wg.Wait()
	stop := context.AfterFunc(ctx, func() { _ = p.conn.Close() })
	defer stop()
	buf := make([]byte, 65536)
	for {
		n, addr, err := p.conn.ReadFrom(buf)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Warn("pnp read", "error", err)
			continue
		}
		src, ok := addr.(*net.UDPAddr)
		if !ok {
			continue
		}
		now := time.Now()
		if !p.lim.allow(src.IP.String(), now) {
			p.log.Debug("pnp datagram dropped: rate limit", "address", src.IP.String())
			continue
		}
		p.handle(ctx, buf[:n], src, now)
	}
}

// handle deals with one datagram. A panic in the SIP parser on hostile input
// must not take the daemon down with it: it is logged and the datagram
// dropped.
func (p *pnpServer) handle(ctx context.Context, data []byte, src *net.UDPAddr, now time.Time) {
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("pnp datagram handling panicked", "address", src.String(), "panic", fmt.Sprint(r))
		}
	}()
	req, err := parsePnP(data)
	if err != nil {
		p.log.Debug("pnp datagram ignored", "address", src.String(), "error", err)
		return
	}
	dec := decidePnP(req, src.IP, p.svc.snapshot())
	if dec.Action == pnpIgnore {
		p.log.Debug("pnp request ignored", "address", src.String(), "why", dec.Why)
		return
	}
	key := txKey(req)
	if e, dup := p.txs.seen(key, now); dup {
		if e.response != nil {
			p.resend(e.response, e.dst)
		}
		return
	}
	p.record(dec, now)
	if dec.Action != pnpAnswer {
		return
	}
	select {
	case p.slots <- struct{}{}:
	default:
		p.log.Warn("pnp busy: request dropped, the phone will retry", "mac", dec.Phone.MAC)
		return
	}
	p.wg.Add(1)
	go func() {
		defer func() { <-p.slots; p.wg.Done() }()
		p.exchange(ctx, req, src, dec, key)
	}()
}

func (p *pnpServer) record(dec pnpDecision, now time.Time) {
	ph := dec.Phone
	p.log.Info("pnp phone seen", "mac", ph.MAC, "vendor", ph.Vendor, "model", ph.Model,
		"address", ph.Address, "version", dec.Version, "action", dec.Action.String(), "why", dec.Why)
	err := p.svc.opts.Store.SeePhone(store.InventoryPhone{MAC: ph.MAC, Vendor: ph.Vendor, Model: ph.Model,
		Address: ph.Address, Source: "pnp", LastSeen: now.UTC()})
	if err != nil {
		p.log.Error("pnp inventory write", "mac", ph.MAC, "error", err)
	}
}

// resend repeats a cached 200 OK for a retransmitted SUBSCRIBE.
func (p *pnpServer) resend(b []byte, dst *net.UDPAddr) {
	c, err := net.DialUDP("udp4", nil, dst)
	if err != nil {
		p.log.Debug("pnp resend", "address", dst.String(), "error", err)
		return
	}
	defer c.Close()
	if _, err := c.Write(b); err != nil {
		p.log.Debug("pnp resend", "address", dst.String(), "error", err)
	}
}

// exchange answers one directory phone: 200 OK, then the NOTIFY with the
// provisioning URL, retransmitted until the phone answers it. It sends from
// an ephemeral socket on the local address that routes to the phone: the
// multicast-bound PnP socket cannot send (a multicast source address is
// invalid), and a unicast socket on port 5060 would steal the SIP server's
// traffic.
func (p *pnpServer) exchange(ctx context.Context, req *sip.Request, src *net.UDPAddr, dec pnpDecision, key string) {
	log := p.log.With("mac", dec.Phone.MAC, "address", src.IP.String())
	resDst, notifyDst := pnpTargets(req, src)
	conn, err := dialFrom(resDst)
	if err != nil {
		log.Warn("pnp answer", "error", err)
		return
	}
	defer conn.Close()
	local := conn.LocalAddr().(*net.UDPAddr)
	res := pnpResponse(req, src, local)
	b := []byte(res.String())
	if _, err := conn.WriteToUDP(b, resDst); err != nil {
		log.Warn("pnp answer", "error", err)
		return
	}
	p.txs.answered(key, b, resDst)
	url := provisioningURL(p.svc.provURL, local.IP)
	notify := pnpNotify(req, res, local, notifyDst, url)
	status, err := sendNotify(ctx, conn, notify, notifyDst)
	if err != nil {
		log.Warn("pnp notify", "url", url, "error", err)
		return
	}
	log.Info("pnp provisioning url sent", "url", url, "status", status)
}

// dialFrom opens an unconnected UDP socket on the local address the kernel
// would use to reach dst, so Via and Contact can name it.
func dialFrom(dst *net.UDPAddr) (*net.UDPConn, error) {
	probe, err := net.DialUDP("udp4", nil, dst) // no packet is sent
	if err != nil {
		return nil, fmt.Errorf("route to %s: %w", dst, err)
	}
	local := probe.LocalAddr().(*net.UDPAddr).IP
	_ = probe.Close()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: local})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", local, err)
	}
	return conn, nil
}

// sendNotify runs the NOTIFY's client transaction (RFC 3261 17.1.2 over
// UDP): retransmit from T1 doubling up to T2 until a final response or
// Timer F. Only responses from the phone's IP matching the Call-ID and Via
// branch count. It returns the final status code.
func sendNotify(ctx context.Context, conn *net.UDPConn, n *sip.Request, dst *net.UDPAddr) (int, error) {
	b := []byte(n.String())
	branch, _ := n.Via().Params.Get("branch")
	deadline := time.Now().Add(notifyTimeout)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()
	interval, provisional := sipT1, false
	buf := make([]byte, 65536)
	for next := time.Now(); ; {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		now := time.Now()
		if !now.Before(deadline) {
			return 0, errors.New("no final response to NOTIFY within 32s")
		}
		if !now.Before(next) {
			if _, err := conn.WriteToUDP(b, dst); err != nil {
				return 0, fmt.Errorf("send NOTIFY to %s: %w", dst, err)
			}
			if provisional {
				interval = sipT2
			}
			next = now.Add(interval)
			interval = min(2*interval, sipT2)
		}
		wake := next
		if deadline.Before(wake) {
			wake = deadline
		}
		_ = conn.SetReadDeadline(wake)
		nr, from, err := conn.ReadFromUDP(buf)
		if errors.Is(err, net.ErrClosed) {
			return 0, fmt.Errorf("wait for NOTIFY response: %w", err)
		}
		if err != nil {
			continue // deadline: retransmit or give up above
		}
		res := notifyResponse(buf[:nr], from, dst, n.CallID().Value(), branch)
		switch {
		case res == nil:
		case res.StatusCode < 200:
			provisional = true
		default:
			return res.StatusCode, nil
		}
	}
}

// notifyResponse returns data as a response to our NOTIFY, or nil.
func notifyResponse(data []byte, from, dst *net.UDPAddr, callID, branch string) *sip.Response {
	if !from.IP.Equal(dst.IP) {
		return nil
	}
	msg, err := sip.ParseMessage(data)
	if err != nil {
		return nil
	}
	res, ok := msg.(*sip.Response)
	if !ok || res.CallID() == nil || res.CallID().Value() != callID || res.Via() == nil ||
		res.CSeq() == nil || res.CSeq().MethodName != sip.NOTIFY {
		return nil
	}
	if b, _ := res.Via().Params.Get("branch"); b != branch {
		return nil
	}
	return res
}
