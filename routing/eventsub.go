package routing

import (
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/events"
	"deskgate/routing/notifier"
	"deskgate/routing/presence"
	"deskgate/routing/registrar"
	"deskgate/routing/sca"
)

// byFeatureKey is the presence change origin for a phone's own DND key
// (as-feature-event SetDoNotDisturb) and for pressing an away key.
const byFeatureKey = "feature_key"

// served reports whether the daemon is the notifier for an event package.
func served(pkg string) bool {
	return pkg == events.PackageFeature || pkg == events.PackageDialog || isSCA(pkg)
}

// contentTypes is what each served package's NOTIFYs carry; "" for the
// SCA packages, whose NOTIFYs carry a Call-Info header and no body.
func contentType(pkg string) string {
	switch {
	case pkg == events.PackageFeature:
		return events.FeatureContentType
	case isSCA(pkg):
		return ""
	}
	return events.DialogContentType
}

// subscribeRequest is what an accepted SUBSCRIBE asks for.
type subscribeRequest struct {
	event   events.Event
	expires int // seconds; 0 = fetch or unsubscribe
	feature *events.FeatureRequest
}

// readSubscribe checks the parts of a SUBSCRIBE to a served package that
// do not depend on who sends it: Accept, Expires and a feature body.
func readSubscribe(req *sip.Request, ev events.Event) (subscribeRequest, Status) {
	out := subscribeRequest{event: ev, expires: subDefaultExpires}
	if ct := contentType(ev.Package); ct != "" && !accepts(req, ct) {
		return out, refuse(406, "Not Acceptable", sip.NewHeader("Accept", contentType(ev.Package)))
	}
	if n, has, err := registrar.ExpiresHeader(req); err != nil {
		return out, refuse(400, "Bad Expires")
	} else if has {
		out.expires = n
	}
	switch {
	case ev.Package == pkgLineSeize && out.expires > int(sca.SeizeTTL/time.Second):
		// A seize lasts as long as it may go unused, whatever was asked.
		out.expires = int(sca.SeizeTTL / time.Second)
	case ev.Package == pkgLineSeize:
	case out.expires > 0 && out.expires < subMinExpires:
		return out, refuse(423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(subMinExpires)))
	case out.expires > subMaxExpires:
		out.expires = subMaxExpires
	}
	if len(req.Body()) > 0 && ev.Package == events.PackageFeature {
		fr, err := events.ParseFeatureRequest(req.Body())
		if err != nil {
			return out, refuse(400, "Bad Feature Request")
		}
		out.feature = &fr
	}
	return out, Status{}
}

// accepts reports whether the request's Accept headers (if any) allow ct.
func accepts(req *sip.Request, ct string) bool {
	list := headerList(req, "Accept")
	if len(list) == 0 {
		return true
	}
	main, _, _ := strings.Cut(ct, "/")
	for _, a := range list {
		a, _, _ = strings.Cut(a, ";")
		switch strings.ToLower(strings.TrimSpace(a)) {
		case ct, "*/*", main + "/*":
			return true
		}
	}
	return false
}

// acceptSubscription serves an initial SUBSCRIBE to a package we notify
// for: resource and permission, then the subscription, 200, first NOTIFY.
func (s *Server) acceptSubscription(req *sip.Request, tx sip.ServerTransaction, org origin,
	snap *directory.Snapshot, ev events.Event) Status {
	if org.fromTrunk {
		return refuse(403, "Forbidden")
	}
	res := resolveResource(snap, ev.Package, org.caller, req.Recipient.User)
	if res.st.Code != 0 {
		s.log.Info("subscription refused", "user", org.caller, "event", ev.Package, "resource", req.Recipient.User,
			"status", res.st.Code)
		return res.st
	}
	sr, st := readSubscribe(req, ev)
	if st.Code != 0 {
		return st
	}
	rec, ok := s.newRecord(req, org.caller, res.key, sr)
	if !ok {
		return refuse(400, "Bad Subscription Dialog")
	}
	if ev.Package == pkgLineSeize {
		if st := s.scaSeize(req, rec, sr.expires); st.Code != 0 {
			return st
		}
	}
	if sr.feature != nil {
		s.applyFeature(org.caller, *sr.feature)
	}
	if sr.expires == 0 {
		// A fetch (RFC 6665 §4.4.3): one NOTIFY with the state, no subscription.
		s.send(tx, s.subscribeOK(req, rec, 0))
		s.subs.Fetch(rec)
		return Status{}
	}
	if err := s.subs.Add(rec); err != nil {
		s.log.Warn("subscription refused", "user", org.caller, "resource", res.key, "error", err)
		return refuse(503, "Too Many Subscriptions")
	}
	s.log.Info("subscribed", "user", org.caller, "resource", res.key, "event", rec.Event, "expires", sr.expires,
		"contact", rec.Contact)
	s.send(tx, s.subscribeOK(req, rec, sr.expires))
	s.subs.Notify(rec.ID)
	return Status{}
}

// newRecord builds the subscription record of an initial SUBSCRIBE.
func (s *Server) newRecord(req *sip.Request, user, resource string, sr subscribeRequest) (store.Subscription, bool) {
	from, to, contact := req.From(), req.To(), req.Contact()
	if from == nil || to == nil || contact == nil {
		return store.Subscription{}, false
	}
	remoteTag, _ := from.Params.Get("tag")
	if remoteTag == "" || contact.Address.Host == "" {
		return store.Subscription{}, false
	}
	now := s.now()
	localTag := sip.GenerateTagN(16)
	rec := store.Subscription{
		ID: notifier.ID(localTag, callID(req), sr.event.String()), User: user, Event: sr.event.String(),
		Package: sr.event.Package, Resource: resource, CallID: callID(req),
		LocalTag: localTag, RemoteTag: remoteTag,
		LocalURI: bareURI(to.Address), RemoteURI: bareURI(from.Address), Contact: contact.Address.String(),
		Source: req.Source(), Transport: strings.ToUpper(req.Transport()),
		Expires: now.Add(time.Duration(sr.expires) * time.Second), Created: now,
	}
	for _, h := range req.GetHeaders("Record-Route") {
		rec.RouteSet = append(rec.RouteSet, h.Value())
	}
	if sr.feature != nil {
		rec.Device = sr.feature.Device
	}
	return rec, true
}

// bareURI is a From/To URI without its header parameters (the tag lives
// in the record separately).
func bareURI(u sip.Uri) string {
	c := u.Clone()
	c.Headers = nil
	return c.String()
}

// subscribeOK is the 200 to a SUBSCRIBE: our tag, the granted expiry, our
// Contact (RFC 6665 §4.2.1.1).
func (s *Server) subscribeOK(req *sip.Request, rec store.Subscription, expires int) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if to := res.To(); to != nil {
		to.Params.Add("tag", rec.LocalTag)
	}
	res.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	if c, ok := s.ourContact(req.Transport()); ok {
		res.AppendHeader(c)
	}
	return res
}

// refreshSubscription handles a SUBSCRIBE inside one of our subscription
// dialogs: refresh, unsubscribe (Expires: 0) or a feature key press. It
// returns false when the dialog is not one of ours, else the Status to answer.
func (s *Server) refreshSubscription(req *sip.Request, tx sip.ServerTransaction) (Status, bool) {
	ev, ok := events.ParseEvent(headerValue(req, "Event"))
	if !ok || !served(ev.Package) {
		return Status{}, false
	}
	toTag, _ := req.To().Params.Get("tag")
	rec, ok := s.subs.Get(notifier.ID(toTag, callID(req), ev.String()))
	if !ok {
		return Status{}, false
	}
	if fromTag, _ := req.From().Params.Get("tag"); fromTag != rec.RemoteTag {
		return refuse(481, "Subscription Does Not Exist"), true
	}
	sr, st := readSubscribe(req, ev)
	if st.Code != 0 {
		return st, true
	}
	if sr.feature != nil {
		s.applyFeature(rec.User, *sr.feature)
	}
	if ev.Package == pkgLineSeize && sr.expires == 0 {
		s.scaSeize(req, rec, 0) // the phone gave the appearance back
	}
	if sr.expires == 0 {
		s.send(tx, s.subscribeOK(req, rec, 0))
		s.log.Info("unsubscribed", "user", rec.User, "resource", rec.Resource)
		s.subs.End(rec.ID, events.ReasonTimeout)
		return Status{}, true
	}
	rec, err := s.subs.Refresh(rec.ID, func(r *store.Subscription) {
		r.Expires = s.now().Add(time.Duration(sr.expires) * time.Second)
		if c := req.Contact(); c != nil && c.Address.Host != "" {
			r.Contact = c.Address.String() // target refresh (RFC 6665 §4.1.2.1)
		}
		if sr.feature != nil && sr.feature.Device != "" {
			r.Device = sr.feature.Device
		}
	})
	if err != nil { // dropped meanwhile (a failed NOTIFY): it stays dropped
		return refuse(481, "Subscription Does Not Exist"), true
	}
	s.send(tx, s.subscribeOK(req, rec, sr.expires))
	s.subs.Notify(rec.ID)
	return Status{}, true
}

// applyFeature carries out a phone's feature key press. DND goes through
// the presence service, whose change feed NOTIFYs every subscribed phone of
// the user, this one included (the confirmation DFKS expects). Forwarding
// is not a deskgate feature: the request is answered and logged only.
func (s *Server) applyFeature(user string, fr events.FeatureRequest) {
	switch fr.Kind {
	case events.SetDoNotDisturb:
		if _, err := s.presence.Set(s.ctx, user, presence.Op{Kind: presence.KindDND, On: fr.DND}, byFeatureKey); err != nil {
			s.log.Error("DND from the phone's key", "user", user, "error", err)
		}
	case events.SetForwarding:
		s.log.Info("call forwarding from a phone key ignored (not supported)", "user", user, "type", fr.ForwardingType)
	}
}
