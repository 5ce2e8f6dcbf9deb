package routing

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Outbound registration to the trunk (optional: trunk.username set).
const (
	trunkExpires    = 600 // seconds asked for; refreshed at half of what was granted
	trunkMinBackoff = 30 * time.Second
	trunkMaxBackoff = 5 * time.Minute
)

// trunkRegState is the outbound registration's status for Stats.
type trunkRegState struct {
	ok      bool
	lastErr string
}

// trunkTarget is where calls for the trunk go: its address and transport.
func (s *Server) trunkTarget() (addr, transport string, ok bool) {
	if s.opts.Trunk.Address == "" {
		return "", "", false
	}
	transport = strings.ToLower(s.opts.Trunk.Transport)
	if transport == "" {
		transport = "udp"
	}
	return s.opts.Trunk.Address, transport, true
}

// trunkRegisterLoop keeps the outbound registration up until ctx is done.
func (s *Server) trunkRegisterLoop(ctx context.Context) {
	if s.opts.Trunk.Username == "" || s.opts.Trunk.Address == "" {
		return
	}
	reg := &trunkRegistration{callID: sip.GenerateTagN(24), cseq: 0}
	backoff := trunkMinBackoff
	for {
		granted, err := s.registerTrunk(ctx, reg)
		s.mu.Lock()
		s.trunkReg.ok = err == nil
		if err != nil {
			s.trunkReg.lastErr = err.Error()
		}
		s.mu.Unlock()
		wait := time.Duration(granted) * time.Second / 2
		if err != nil {
			s.log.Warn("trunk registration", "trunk", s.opts.Trunk.Address, "error", err, "retry_in", backoff)
			wait, backoff = backoff, min(2*backoff, trunkMaxBackoff)
		} else {
			backoff = trunkMinBackoff
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(max(wait, 5*time.Second)):
		}
	}
}

// trunkRegistration keeps Call-ID and CSeq across refreshes (RFC 3261 §10.2).
type trunkRegistration struct {
	callID string
	cseq   uint32
}

// registerTrunk sends one REGISTER, answering a digest challenge once, and
// returns the granted expiry in seconds.
func (s *Server) registerTrunk(ctx context.Context, reg *trunkRegistration) (int, error) {
	addr, transport, _ := s.trunkTarget()
	host, port, err := splitHostPort(addr)
	if err != nil {
		return 0, err
	}
	req, err := s.trunkRegisterRequest(reg, host, port, transport)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, 64*sip.T1)
	defer cancel()
	res, err := s.cli.Do(ctx, req)
	if err != nil {
		return 0, fmt.Errorf("register to trunk %s: %w", addr, err)
	}
	if res.StatusCode == 401 || res.StatusCode == 407 {
		res, err = s.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{
			Username: s.opts.Trunk.Username, Password: s.opts.Trunk.Password})
		if err != nil {
			return 0, fmt.Errorf("register to trunk %s: %w", addr, err)
		}
		reg.cseq = req.CSeq().SeqNo
	}
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("register to trunk %s: %d %s", addr, res.StatusCode, res.Reason)
	}
	return grantedExpires(res, trunkExpires), nil
}

func (s *Server) trunkRegisterRequest(reg *trunkRegistration, host string, port int, transport string) (*sip.Request, error) {
	ourHost, ourPort, ok := s.me.hostPort(transport)
	if !ok {
		return nil, fmt.Errorf("no %s listener to register the trunk from", transport)
	}
	reg.cseq++
	aor := sip.Uri{Scheme: "sip", User: s.opts.Trunk.Username, Host: host}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: host, Port: port})
	from := &sip.FromHeader{Address: aor}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: aor})
	cid := sip.CallIDHeader(reg.callID)
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: reg.cseq, MethodName: sip.REGISTER})
	contact := &sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: s.opts.Trunk.Username,
		Host: strings.Trim(ourHost, "[]"), Port: ourPort}}
	contact.Address.UriParams = sip.NewParams()
	contact.Address.UriParams.Add("transport", transport)
	req.AppendHeader(contact)
	req.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(trunkExpires)))
	req.SetTransport(strings.ToUpper(transport))
	req.SetDestination(hostPortString(host, port))
	s.pinLocal(req)
	return req, nil
}

// grantedExpires reads the expiry the registrar granted (Contact param,
// then Expires header), def when neither is usable.
func grantedExpires(res *sip.Response, def int) int {
	for _, h := range res.GetHeaders("Contact") {
		if c, ok := h.(*sip.ContactHeader); ok {
			if v, ok := c.Params.Get("expires"); ok {
				if n, err := strconv.Atoi(v); err == nil && n > 0 {
					return n
				}
			}
		}
	}
	if h := res.GetHeader("Expires"); h != nil {
		if n, err := strconv.Atoi(strings.TrimSpace(h.Value())); err == nil && n > 0 {
			return n
		}
	}
	return def
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 5060, nil // a bare host: default port
	}
	port, err := strconv.Atoi(p)
	if err != nil || port <= 0 || port > 65535 {
		return "", 0, fmt.Errorf("trunk address %q: bad port", addr)
	}
	return host, port, nil
}
