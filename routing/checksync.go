package routing

import (
	"context"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/events"
)

// CheckSync tells the phones with these MACs to re-fetch their
// configuration: an out-of-dialog NOTIFY with Event: check-sync;reboot=false
// (docs/spec.md §5) to the phone's live registrations. The daemon calls it after a
// directory change that alters what those phones' keys should show
// (provisioning.Affected).
//
// A phone is found through the directory (its user) and the registrar:
// the user's bindings whose User-Agent or +sip.instance carries the MAC
// (Yealink, Poly, Grandstream, Fanvil and Cisco put it there). When none
// does, every binding of the phone's user gets the NOTIFY: a phone that
// hides its MAC is still told, and the user's other phones at worst
// re-fetch an unchanged file. Phones not in the directory or not
// registered are skipped (they fetch their files when they boot).
//
// CheckSync returns once the NOTIFYs are queued; they go out in the
// background, each bounded by the SIP transaction timeout, and are
// abandoned when ctx ends or the server stops. Outcomes are logged. Before
// Run has started, or after it ended, it only logs.
func (s *Server) CheckSync(ctx context.Context, macs []string) {
	snap := s.opts.Directory()
	if snap == nil || !s.up.Load() {
		s.log.Warn("check-sync not sent: SIP not running", "macs", macs)
		return
	}
	now := s.now()
	for _, mac := range macs {
		targets, user := checkSyncTargets(snap, s.bindings, mac, now)
		if len(targets) == 0 {
			s.log.Info("check-sync skipped: phone not registered", "mac", mac, "user", user)
			continue
		}
		for _, b := range targets {
			if !s.senders.start(func() { s.sendCheckSync(ctx, mac, b) }) {
				return
			}
		}
	}
}

// checkSyncTargets picks the bindings a phone's check-sync goes to (see
// CheckSync) and returns the phone's user.
func checkSyncTargets(snap *directory.Snapshot, bs *bindings, mac string, now time.Time) ([]store.Binding, string) {
	p, ok := snap.Phone(mac)
	if !ok {
		return nil, ""
	}
	all := bs.get(p.User, now)
	var mine []store.Binding
	for _, b := range all {
		if bindingHasMAC(b, p.MAC) {
			mine = append(mine, b)
		}
	}
	if len(mine) == 0 {
		return all, p.User
	}
	return mine, p.User
}

// bindingHasMAC reports whether a binding's User-Agent or instance id
// names the MAC.
func bindingHasMAC(b store.Binding, mac string) bool {
	return directory.MACIn(b.UserAgent, mac) || directory.MACIn(b.InstanceID, mac)
}

// sendCheckSync sends one check-sync NOTIFY to a binding.
func (s *Server) sendCheckSync(ctx context.Context, mac string, b store.Binding) {
	req, ok := s.checkSyncRequest(b)
	if !ok {
		s.log.Warn("check-sync not sent: bad contact", "mac", mac, "contact", b.Contact)
		return
	}
	sctx, cancel := context.WithTimeout(s.ctx, 64*sip.T1)
	defer cancel()
	stop := context.AfterFunc(ctx, cancel)
	defer stop()
	res, err := s.cli.Do(sctx, req)
	switch {
	case err != nil:
		s.log.Info("check-sync not answered", "mac", mac, "user", b.User, "contact", b.Contact, "error", err)
	case res.StatusCode >= 300:
		s.log.Info("check-sync refused", "mac", mac, "user", b.User, "contact", b.Contact, "status", res.StatusCode)
	default:
		s.log.Info("check-sync sent", "mac", mac, "user", b.User, "contact", b.Contact)
	}
}

// checkSyncRequest builds the out-of-dialog NOTIFY for a binding. Like
// Asterisk's and FreeSWITCH's it carries Subscription-State: terminated
// (RFC 6665 requires the header; there is no subscription) and no body.
func (s *Server) checkSyncRequest(b store.Binding) (*sip.Request, bool) {
	c := contactOf(b)
	var u sip.Uri
	if err := sip.ParseUri(c.URI, &u); err != nil {
		return nil, false
	}
	req := sip.NewRequest(sip.NOTIFY, u)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "deskgate", Host: s.opts.Domain}}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: u.User, Host: s.opts.Domain}})
	req.AppendHeader(sip.NewHeader("Event", events.CheckSync))
	req.AppendHeader(sip.NewHeader("Subscription-State", events.Terminated("")))
	if ct, ok := s.ourContact(c.Transport); ok {
		req.AppendHeader(ct)
	}
	req.SetTransport(strings.ToUpper(c.Transport))
	req.SetDestination(c.Source)
	s.pinLocal(req)
	return req, true
}
