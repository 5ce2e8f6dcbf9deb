package routing

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/registrar"
)

// headerValue is a header's value, "" when absent.
func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// handleRegister is the registrar: authenticate, check the address of
// record belongs to the authenticated user (or is a line it may carry),
// apply the contacts, answer 200 with the resulting bindings.
func (s *Server) handleRegister(req *sip.Request, tx sip.ServerTransaction) Status {
	now := s.now()
	if !s.me.isMe(req.Recipient) {
		return refuse(404, "Domain Not Served")
	}
	authUser, st, ok := s.authenticate(req, tx, now)
	if !ok {
		return st
	}
	markAdmitted(tx) // answered statefully from here (flood.go)
	// user is the binding table's key: the authenticated user for its own
	// address of record, a line appearance key for a department or
	// executive line the user may carry (appearance.go).
	user := authUser
	if snap := s.opts.Directory(); !aorIsUser(snap, req.To(), authUser) {
		key, ok := appearanceKey(snap, req.To(), authUser)
		if !ok {
			s.log.Warn("register for another user refused", "user", authUser, "aor", uriUser(req.To()))
			return refuse(403, "Not Your Address Of Record")
		}
		user = key
	}
	before := s.bindings.Get(user, now)
	parsed, rerr := registrar.Parse(req, user, before, s.opts.RegisterMinExpires, s.opts.RegisterMaxExpires, now)
	if rerr != nil {
		return Status(*rerr)
	}
	var cur []store.Binding
	var err error
	if parsed.Wildcard {
		err = s.bindings.RemoveAll(user)
	} else if len(parsed.Changes) > 0 {
		cur, err = s.bindings.Update(user, parsed.Changes, now)
	} else {
		cur = s.bindings.Get(user, now) // query only
	}
	if err != nil {
		s.log.Error("store bindings", "user", user, "error", err)
		return refuse(500, "Storage Error")
	}
	s.logRegister(user, req, parsed, before, now)
	res := registrar.OK(req, cur, now)
	if g, ok := tx.(interface {
		respondRebuilt(*sip.Response, string) error
	}); ok {
		// A retransmission is answered from the bindings, not from a
		// copy of this 200 kept for Timer J.
		if err := g.respondRebuilt(res, user); err != nil {
			s.log.Debug("send response", "status", 200, "call_id", callID(req), "error", err)
		}
	} else {
		s.send(tx, res)
	}
	return Status{}
}

// logRegister logs new and removed contacts at info, refreshes at debug.
func (s *Server) logRegister(user string, req *sip.Request, p registrar.Request, before []store.Binding, now time.Time) {
	if p.Wildcard {
		s.log.Info("unregistered all contacts", "user", user, "source", req.Source())
		return
	}
	for _, c := range p.Changes {
		known := slices.ContainsFunc(before, func(b store.Binding) bool { return b.Contact == c.Contact })
		switch {
		case !c.Expires.After(now):
			s.log.Info("unregistered", "user", user, "contact", c.Contact, "source", c.Source)
		case !known:
			s.log.Info("registered", "user", user, "contact", c.Contact, "source", c.Source,
				"transport", c.Transport, "expires", c.Expires, "user_agent", c.UserAgent)
		case s.log.Enabled(context.Background(), slog.LevelDebug):
			// Checked first: the arguments of a disabled call still cost
			// allocations, and refreshes are most of a REGISTER storm.
			s.log.Debug("registration refreshed", "user", user, "contact", c.Contact, "expires", c.Expires)
		}
	}
}

// aorIsUser reports whether the To address names user (by extension, number
// or id) under any host we serve (the host was checked on the R-URI).
func aorIsUser(snap *directory.Snapshot, to *sip.ToHeader, user string) bool {
	if to == nil || snap == nil {
		return false
	}
	if e, ok := snap.Lookup(to.Address.User); ok && e.Kind == directory.KindUser {
		return e.User.ID == user
	}
	u, ok := snap.User(to.Address.User)
	return ok && u.ID == user
}

// uriUser is the user part of a To header, "" when absent.
func uriUser(to *sip.ToHeader) string {
	if to == nil {
		return ""
	}
	return to.Address.User
}
