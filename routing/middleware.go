package routing

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// allowed is the Allow header: what we handle ourselves or route in dialogs.
// MESSAGE is not in it: it is only routed inside a dialog, and a 405 to an
// out-of-dialog MESSAGE must not list it as allowed.
const allowed = "INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, SUBSCRIBE, NOTIFY, REFER, INFO, UPDATE, PRACK"

// routes sends every method through one entry point, so the fuzz target and
// the transports exercise exactly the same chain.
func (s *Server) routes(srv *sipgo.Server) {
	for _, m := range []sip.RequestMethod{sip.INVITE, sip.ACK, sip.CANCEL, sip.BYE, sip.OPTIONS,
		sip.REGISTER, sip.SUBSCRIBE, sip.NOTIFY, sip.REFER, sip.INFO, sip.UPDATE, sip.PRACK,
		sip.MESSAGE, sip.PUBLISH} {
		srv.OnRequest(m, s.handle)
	}
	srv.OnNoRoute(s.handle)
}

// handle is the request entry point: recover, count, budget, validate,
// dispatch.
//
// The handlers get tx wrapped in a guardTx: until a request is admitted
// (flood.go) it is answered statelessly, so nothing it sends is held.
func (s *Server) handle(req *sip.Request, stx sip.ServerTransaction) {
	tx := newGuardTx(stx)
	if !s.active.enter() {
		// Stopping: the transports close in a moment. Phones retry elsewhere
		// or after the restart.
		if !req.IsAck() {
			res := sip.NewResponseFromRequest(req, 503, "Shutting Down", nil)
			res.AppendHeader(sip.NewHeader("Retry-After", "5"))
			s.send(tx, res)
		}
		return
	}
	defer s.active.leave()
	defer s.recoverRequest(req, tx)
	live := s.track(stx)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request", "method", string(req.Method), "ruri", req.Recipient.String(),
			"call_id", callID(req), "source", req.Source(), "transport", req.Transport())
	}
	if s.overLoad(req, tx, live) {
		return
	}
	if v := validate(req, s.me); v.code != 0 {
		if req.IsAck() {
			return // never answer an ACK
		}
		res := sip.NewResponseFromRequest(req, v.code, v.reason, nil)
		res.SipVersion = "SIP/2.0" // not the request's (505 to SIP/7.0)
		for _, h := range v.headers {
			res.AppendHeader(h)
		}
		s.send(tx, res)
		return
	}
	s.dispatch(req, tx)
}

func (s *Server) dispatch(req *sip.Request, tx sip.ServerTransaction) {
	switch req.Method {
	case sip.REGISTER:
		s.handleRegister(req, tx)
	case sip.INVITE:
		s.handleInvite(req, tx)
	case sip.ACK:
		s.handleAck(req)
	case sip.CANCEL:
		// A CANCEL matching a pending INVITE never gets here (the transaction
		// layer answers it and the INVITE handler sees tx.OnCancel).
		s.respond(req, tx, 481, "Call/Transaction Does Not Exist")
	case sip.OPTIONS:
		s.handleOptions(req, tx)
	case sip.SUBSCRIBE:
		s.handleSubscribe(req, tx)
	case sip.BYE, sip.NOTIFY, sip.REFER, sip.INFO, sip.UPDATE, sip.PRACK, sip.MESSAGE:
		s.handleInDialog(req, tx)
	default:
		if hasToTag(req) && s.hasOurRoute(req) {
			s.handleInDialog(req, tx) // an extension method inside a dialog: route it
			return
		}
		res := sip.NewResponseFromRequest(req, 405, "Method Not Allowed", nil)
		res.AppendHeader(sip.NewHeader("Allow", allowed))
		s.send(tx, res)
	}
}

func (s *Server) recoverRequest(req *sip.Request, tx sip.ServerTransaction) {
	r := recover()
	if r == nil {
		return
	}
	s.log.Error("panic handling request", "panic", r, "method", string(req.Method),
		"call_id", callID(req), "stack", string(debug.Stack()))
	if !req.IsAck() {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 500, "Server Internal Error", nil))
	}
}

// verdict is validate's answer; code 0 = go on.
type verdict struct {
	code    int
	reason  string
	headers []sip.Header
}

// validate applies RFC 3261 §16.3 request validation plus the checks the
// RFC 4475 torture tests expect: version, mandatory headers, CSeq method,
// Max-Forwards, loops, Proxy-Require, URI scheme.
func validate(req *sip.Request, me *self) verdict {
	if req.SipVersion != "SIP/2.0" {
		return verdict{code: 505, reason: "Version Not Supported"}
	}
	switch {
	case req.From() == nil:
		return verdict{code: 400, reason: "Missing From"}
	case req.To() == nil:
		return verdict{code: 400, reason: "Missing To"}
	case req.CallID() == nil || req.CallID().Value() == "":
		return verdict{code: 400, reason: "Missing Call-ID"}
	case req.CSeq() == nil:
		return verdict{code: 400, reason: "Missing CSeq"}
	case req.Via() == nil:
		return verdict{code: 400, reason: "Missing Via"}
	}
	// sipgo upper-cases the request line's method but not CSeq's.
	if !strings.EqualFold(string(req.CSeq().MethodName), string(req.Method)) {
		return verdict{code: 400, reason: "CSeq Method Mismatch"}
	}
	if len(req.Recipient.Headers) > 0 {
		return verdict{code: 400, reason: "Headers In Request-URI"} // RFC 3261 §19.1.5, RFC 4475 escruri
	}
	if d := req.GetHeader("Date"); d != nil {
		if _, err := time.Parse(sipDate, strings.TrimSpace(d.Value())); err != nil {
			return verdict{code: 400, reason: "Bad Date"} // RFC 3261 §20.17: GMT only
		}
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return verdict{code: 400, reason: "Content-Length Mismatch"}
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sip.OPTIONS {
		return verdict{code: 483, reason: "Too Many Hops"}
	}
	if me != nil {
		for _, h := range req.GetHeaders("Via") {
			if v, ok := h.(*sip.ViaHeader); ok && me.viaIsMe(v) {
				return verdict{code: 482, reason: "Loop Detected"}
			}
		}
	}
	if ext := headerList(req, "Proxy-Require"); len(ext) > 0 {
		return verdict{code: 420, reason: "Bad Extension",
			headers: []sip.Header{sip.NewHeader("Unsupported", strings.Join(ext, ", "))}}
	}
	if sc := strings.ToLower(req.Recipient.Scheme); sc != "sip" && sc != "sips" {
		return verdict{code: 416, reason: "Unsupported URI Scheme"}
	}
	return verdict{}
}

// headerList splits every value of a comma-list header.
func headerList(m sip.Message, name string) []string {
	var out []string
	for _, h := range m.GetHeaders(name) {
		for _, v := range strings.Split(h.Value(), ",") {
			if v = strings.TrimSpace(v); v != "" {
				out = append(out, v)
			}
		}
	}
	return out
}

// respond sends a plain response, logging a failure to send.
func (s *Server) respond(req *sip.Request, tx sip.ServerTransaction, code int, reason string) {
	s.send(tx, sip.NewResponseFromRequest(req, code, reason, nil))
}

func (s *Server) send(tx sip.ServerTransaction, res *sip.Response) {
	if err := tx.Respond(res); err != nil {
		s.log.Debug("send response", "status", res.StatusCode, "call_id", callIDOf(res), "error", err)
	}
}

func callID(req *sip.Request) string {
	if h := req.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

func callIDOf(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return h.Value()
	}
	return ""
}

// hasToTag reports whether the request is inside a dialog.
func hasToTag(req *sip.Request) bool {
	to := req.To()
	return to != nil && to.Params.Has("tag")
}

// handleOptions answers keepalives and capability queries ourselves;
// inside a dialog it is routed like any in-dialog request.
func (s *Server) handleOptions(req *sip.Request, tx sip.ServerTransaction) {
	if hasToTag(req) && s.hasOurRoute(req) {
		s.handleInDialog(req, tx)
		return
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	s.send(tx, res)
}
