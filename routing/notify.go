package routing

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
	"deskgate/routing/events"
)

// NOTIFYs go out one at a time per subscription, in CSeq order: a change
// marks the subscription dirty and, if no sender runs for it, starts one.
// The sender renders the state when it sends, so changes that come while a
// NOTIFY is in flight are coalesced into the next one (every body is the
// full state). A subscriber that does not answer, or answers with an error,
// loses the subscription (RFC 6665 §4.2.2: 481 and timeouts end it; the
// phone's next refresh then gets 481 and subscribes again).

// notify schedules a NOTIFY with sb's current state.
func (s *Server) notify(sb *subscription) { s.schedule(sb, "") }

// endSub schedules sb's last NOTIFY (Subscription-State terminated with
// reason) after which it is removed from the table and the store.
func (s *Server) endSub(sb *subscription, reason string) { s.schedule(sb, reason) }

func (s *Server) schedule(sb *subscription, ending string) {
	t := s.subs
	t.mu.Lock()
	if sb.gone || sb.ending != "" {
		t.mu.Unlock()
		return
	}
	sb.dirty = true
	if ending != "" {
		sb.ending = ending
	}
	if sb.sending {
		t.mu.Unlock()
		return
	}
	sb.sending = true
	t.mu.Unlock()
	if !s.senders.start(func() { s.sendLoop(sb) }) {
		t.mu.Lock()
		sb.sending = false
		t.mu.Unlock()
	}
}

// sendLoop sends NOTIFYs for sb until nothing is pending.
func (s *Server) sendLoop(sb *subscription) {
	t := s.subs
	for {
		t.mu.Lock()
		if !sb.dirty || sb.gone {
			sb.sending = false
			t.mu.Unlock()
			return
		}
		sb.dirty = false
		ending := sb.ending
		sb.rec.CSeq++
		rec := sb.rec
		if rec.Package == events.PackageDialog {
			sb.rec.Version++ // rec keeps the version this NOTIFY carries
		}
		t.mu.Unlock()
		ok := s.sendNotify(rec, ending)
		if !ok && ending == "" && s.ctx.Err() != nil {
			// Cut short by our own stop, not refused by the subscriber:
			// keep it in the store so the next start resumes it.
			t.mu.Lock()
			sb.sending = false
			t.mu.Unlock()
			return
		}
		if ending != "" || !ok {
			s.dropSub(sb)
			return
		}
	}
}

// dropSub removes sb from the table and the store.
func (s *Server) dropSub(sb *subscription) {
	s.subs.mu.Lock()
	s.subs.removeLocked(sb)
	sb.sending = false
	s.subs.mu.Unlock()
	if err := s.opts.Store.DeleteSubscription(sb.rec.ID); err != nil {
		s.log.Error("delete subscription", "user", sb.rec.User, "resource", sb.rec.Resource, "error", err)
	}
}

// sendNotify sends one NOTIFY and reports whether the subscription lives
// on (a 2xx answer).
func (s *Server) sendNotify(rec store.Subscription, ending string) bool {
	ctype, body, gone := s.render(rec)
	if gone != "" && ending == "" {
		ending = gone // the resource went away: this NOTIFY is the last
	}
	req, err := s.notifyRequest(rec, ending, ctype, body)
	if err != nil {
		s.log.Warn("build NOTIFY", "user", rec.User, "resource", rec.Resource, "error", err)
		return false
	}
	s.addCallInfo(req, rec)
	ctx, cancel := context.WithTimeout(s.ctx, 64*sip.T1)
	defer cancel()
	res, err := s.cli.Do(ctx, req)
	switch {
	case err != nil && s.ctx.Err() != nil:
		s.log.Debug("NOTIFY cut short by stop; subscription kept", "user", rec.User, "resource", rec.Resource)
		return false
	case err != nil:
		s.log.Info("NOTIFY not answered; subscription ended", "user", rec.User, "resource", rec.Resource,
			"destination", req.Destination(), "error", err)
		return false
	case res.StatusCode >= 300:
		s.log.Info("NOTIFY refused; subscription ended", "user", rec.User, "resource", rec.Resource,
			"status", res.StatusCode)
		return false
	}
	s.log.Debug("NOTIFY", "user", rec.User, "resource", rec.Resource, "cseq", rec.CSeq, "state", ending)
	return ending == ""
}

// notifyRequest builds an in-dialog NOTIFY (RFC 6665 §4.2.2, RFC 3261
// §12.2.1.1): Request-URI = the subscriber's Contact, Route = the
// SUBSCRIBE's Record-Route set, From = our side with our tag, To = the
// subscriber with its tag.
func (s *Server) notifyRequest(rec store.Subscription, ending, ctype string, body []byte) (*sip.Request, error) {
	var target, local, remote sip.Uri
	for _, p := range []struct {
		s string
		u *sip.Uri
	}{{rec.Contact, &target}, {rec.LocalURI, &local}, {rec.RemoteURI, &remote}} {
		if err := sip.ParseUri(p.s, p.u); err != nil {
			return nil, err
		}
	}
	req := sip.NewRequest(sip.NOTIFY, target)
	from := &sip.FromHeader{Address: local}
	from.Params.Add("tag", rec.LocalTag)
	to := &sip.ToHeader{Address: remote}
	to.Params.Add("tag", rec.RemoteTag)
	cid := sip.CallIDHeader(rec.CallID)
	for _, h := range []sip.Header{from, to, &cid, &sip.CSeqHeader{SeqNo: rec.CSeq, MethodName: sip.NOTIFY}} {
		req.AppendHeader(h)
	}
	hop := target
	for i, r := range rec.RouteSet {
		var u sip.Uri
		if err := sip.ParseUri(strings.Trim(r, "<> "), &u); err != nil {
			return nil, err
		}
		if i == 0 {
			hop = u
		}
		req.AppendHeader(&sip.RouteHeader{Address: u})
	}
	mf := sip.MaxForwardsHeader(70)
	req.AppendHeader(&mf)
	req.AppendHeader(sip.NewHeader("Event", rec.Event))
	state := events.Terminated(ending)
	if ending == "" {
		state = events.Active(int(rec.Expires.Sub(s.now()).Round(time.Second) / time.Second))
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if c, ok := s.ourContact(rec.Transport); ok {
		req.AppendHeader(c)
	}
	if ctype != "" {
		req.AppendHeader(sip.NewHeader("Content-Type", ctype))
		req.SetBody(body)
	}
	s.aimAt(req, hop, rec)
	return req, nil
}

// aimAt sets transport and destination: over TCP the connection the
// SUBSCRIBE came on, over UDP the first route, or the Contact when it
// names the SUBSCRIBE's source IP, else the source (NAT: RFC 3581).
func (s *Server) aimAt(req *sip.Request, hop sip.Uri, rec store.Subscription) {
	transport := strings.ToLower(rec.Transport)
	if t, ok := hop.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToLower(t)
	}
	if transport == "" {
		transport = "udp"
	}
	req.SetTransport(strings.ToUpper(transport))
	if len(rec.RouteSet) > 0 {
		port := hop.Port
		if port == 0 {
			port = 5060
		}
		req.SetDestination(hostPortString(hop.Host, port))
	} else {
		req.SetDestination(sendTo(store.Binding{Source: rec.Source}, hop, transport))
	}
	s.pinLocal(req)
}

// ourContact is our Contact for dialogs we serve on transport.
func (s *Server) ourContact(transport string) (*sip.ContactHeader, bool) {
	network := strings.ToLower(transport)
	if network == "" {
		network = "udp"
	}
	host, port, ok := s.me.hostPort(network)
	if !ok {
		if host, port, ok = s.me.hostPort("udp"); !ok {
			return nil, false
		}
		network = "udp"
	}
	u := sip.Uri{Scheme: "sip", Host: strings.Trim(host, "[]"), Port: port}
	if strings.HasPrefix(host, "[") {
		u.Host = host
	}
	u.UriParams = sip.NewParams()
	u.UriParams.Add("transport", network)
	return &sip.ContactHeader{Address: u}, true
}
