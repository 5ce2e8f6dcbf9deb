package routing

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// sipDate is the RFC 3261 §20.17 Date format (RFC 1123, always GMT).
const sipDate = "Mon, 02 Jan 2006 15:04:05 GMT"

// defaultExpires is used when a REGISTER names no expiry (clamped to max).
const defaultExpires = 3600

// regError is a REGISTER refused before touching the table.
type regError struct {
	code       int
	reason     string
	minExpires int // for 423
}

// regRequest is a parsed REGISTER: either remove everything (Contact: *) or
// a list of changes (Expires not after now = remove that contact).
type regRequest struct {
	wildcard bool
	changes  []store.Binding
}

// parseRegister turns a REGISTER into binding changes for user, applying
// RFC 3261 §10.3 steps 5–7: wildcard rules, expiry per contact (parameter,
// then Expires header, then the default), min/max clamping, CSeq order.
func parseRegister(req *sip.Request, user string, cur []store.Binding, minExp, maxExp int, now time.Time) (regRequest, *regError) {
	hdrExp, hasHdr, err := expiresHeader(req)
	if err != nil {
		return regRequest{}, &regError{code: 400, reason: "Bad Expires"}
	}
	callID, cseq := "", uint32(0)
	if h := req.CallID(); h != nil {
		callID = h.Value()
	}
	if h := req.CSeq(); h != nil {
		cseq = h.SeqNo
	}
	var out regRequest
	contacts := req.GetHeaders("Contact")
	for _, h := range contacts {
		c, ok := h.(*sip.ContactHeader)
		if !ok {
			return regRequest{}, &regError{code: 400, reason: "Bad Contact"}
		}
		if c.Address.Wildcard {
			if len(contacts) != 1 || !hasHdr || hdrExp != 0 {
				return regRequest{}, &regError{code: 400, reason: "Bad Wildcard Contact"}
			}
			return regRequest{wildcard: true}, nil
		}
		exp, rerr := contactExpires(c, hdrExp, hasHdr, minExp, maxExp)
		if rerr != nil {
			return regRequest{}, rerr
		}
		b := store.Binding{
			User:       user,
			Contact:    c.Address.String(),
			Source:     req.Source(),
			Transport:  strings.ToUpper(req.Transport()),
			CallID:     callID,
			CSeq:       cseq,
			InstanceID: strings.Trim(c.Params.GetOr("+sip.instance", ""), `"`),
			RegID:      c.Params.GetOr("reg-id", ""),
			UserAgent:  headerValue(req, "User-Agent"),
			Expires:    now.Add(time.Duration(exp) * time.Second),
			Updated:    now,
		}
		if c.Address.Scheme != "sip" && c.Address.Scheme != "sips" || c.Address.Host == "" {
			return regRequest{}, &regError{code: 400, reason: "Bad Contact URI"}
		}
		if outOfOrder(cur, b) {
			return regRequest{}, &regError{code: 500, reason: "Out Of Order CSeq"}
		}
		out.changes = append(out.changes, b)
	}
	return out, nil
}

// contactExpires picks and clamps one contact's expiry in seconds; 0 means
// remove.
func contactExpires(c *sip.ContactHeader, hdrExp int, hasHdr bool, minExp, maxExp int) (int, *regError) {
	exp := min(defaultExpires, maxExp)
	if hasHdr {
		exp = hdrExp
	}
	if v, ok := c.Params.Get("expires"); ok {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 32)
		if err != nil {
			return 0, &regError{code: 400, reason: "Bad Contact Expires"}
		}
		exp = int(min(n, 1<<31-1))
	}
	switch {
	case exp == 0:
		return 0, nil
	case exp < minExp:
		return 0, &regError{code: 423, reason: "Interval Too Brief", minExpires: minExp}
	case exp > maxExp:
		return maxExp, nil
	}
	return exp, nil
}

// expiresHeader reads the Expires header (delta-seconds only).
func expiresHeader(req *sip.Request) (int, bool, error) {
	h := req.GetHeader("Expires")
	if h == nil {
		return 0, false, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(h.Value()), 10, 32)
	if err != nil {
		return 0, true, fmt.Errorf("expires %q: %w", h.Value(), err)
	}
	return int(min(n, 1<<31-1)), true, nil
}

func headerValue(m interface{ GetHeader(string) sip.Header }, name string) string {
	if h := m.GetHeader(name); h != nil {
		return h.Value()
	}
	return ""
}

// handleRegister is the registrar: authenticate, check the address of
// record belongs to the authenticated user (or is a line it may carry),
// apply the contacts, answer 200 with the resulting bindings.
func (s *Server) handleRegister(req *sip.Request, tx sip.ServerTransaction) {
	now := s.now()
	if !s.me.isMe(req.Recipient) {
		s.respond(req, tx, 404, "Domain Not Served")
		return
	}
	authUser, ok := s.authenticate(req, tx, now)
	if !ok {
		return
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
			s.respond(req, tx, 403, "Not Your Address Of Record")
			return
		}
		user = key
	}
	before := s.bindings.get(user, now)
	parsed, rerr := parseRegister(req, user, before, s.opts.RegisterMinExpires, s.opts.RegisterMaxExpires, now)
	if rerr != nil {
		res := sip.NewResponseFromRequest(req, rerr.code, rerr.reason, nil)
		if rerr.minExpires > 0 {
			res.AppendHeader(sip.NewHeader("Min-Expires", strconv.Itoa(rerr.minExpires)))
		}
		s.send(tx, res)
		return
	}
	var cur []store.Binding
	var err error
	if parsed.wildcard {
		err = s.bindings.removeAll(user)
	} else if len(parsed.changes) > 0 {
		cur, err = s.bindings.update(user, parsed.changes, now)
	} else {
		cur = s.bindings.get(user, now) // query only
	}
	if err != nil {
		s.log.Error("store bindings", "user", user, "error", err)
		s.respond(req, tx, 500, "Storage Error")
		return
	}
	s.logRegister(user, req, parsed, before, now)
	s.send(tx, registerOK(req, cur, now))
}

// logRegister logs new and removed contacts at info, refreshes at debug.
func (s *Server) logRegister(user string, req *sip.Request, p regRequest, before []store.Binding, now time.Time) {
	if p.wildcard {
		s.log.Info("unregistered all contacts", "user", user, "source", req.Source())
		return
	}
	for _, c := range p.changes {
		known := slices.ContainsFunc(before, func(b store.Binding) bool { return b.Contact == c.Contact })
		switch {
		case !c.Expires.After(now):
			s.log.Info("unregistered", "user", user, "contact", c.Contact, "source", c.Source)
		case !known:
			s.log.Info("registered", "user", user, "contact", c.Contact, "source", c.Source,
				"transport", c.Transport, "expires", c.Expires, "user_agent", c.UserAgent)
		default:
			s.log.Debug("registration refreshed", "user", user, "contact", c.Contact, "expires", c.Expires)
		}
	}
}

// registerOK lists every current binding with its remaining time.
func registerOK(req *sip.Request, cur []store.Binding, now time.Time) *sip.Response {
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	for _, b := range cur {
		u := sip.Uri{}
		if err := sip.ParseUri(b.Contact, &u); err != nil {
			continue
		}
		c := &sip.ContactHeader{Address: u}
		secs := int(b.Expires.Sub(now).Round(time.Second) / time.Second)
		c.Params.Add("expires", strconv.Itoa(max(secs, 0)))
		// The phone finds its own binding by these (RFC 5626 §5.2, RFC 5627).
		if b.InstanceID != "" && safeParam(b.InstanceID) {
			c.Params.Add("+sip.instance", `"`+b.InstanceID+`"`)
		}
		if b.RegID != "" && safeParam(b.RegID) {
			c.Params.Add("reg-id", b.RegID)
		}
		res.AppendHeader(c)
	}
	res.AppendHeader(sip.NewHeader("Date", now.UTC().Format(sipDate)))
	return res
}

// safeParam reports whether v can be written back as a Contact parameter
// value as-is: no quotes, separators or control characters.
func safeParam(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool {
		return r < 0x21 || r == 0x7f || strings.ContainsRune(`";,\`, r)
	})
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
