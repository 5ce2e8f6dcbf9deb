package routing

import (
	"context"
	"log/slog"
	"runtime/debug"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"deskgate/routing/internal/reply"
	"deskgate/routing/registrar"
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
// A retransmission of a request whose transaction has ended is answered
// from the retransmission cache before anything else (retrans.go): no
// handler runs twice for one transaction.
//
// The handlers get tx wrapped in a guardTx: until a request is admitted
// (flood.go) it is answered statelessly, so nothing it sends is held; once
// admitted, its transaction ends with its final response.
func (s *Server) handle(req *sip.Request, stx sip.ServerTransaction) {
	if s.retransmission(req, stx) {
		return
	}
	tx := newGuardTx(stx)
	tx.keep(req, s.retrans, s.now)
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
	defer tx.settle()
	defer s.recoverRequest(req, tx)
	live := s.track(stx)
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug("request", "method", string(req.Method), "ruri", req.Recipient.String(),
			"call_id", callID(req), "source", req.Source(), "transport", req.Transport())
	}
	if s.overLoad(req, tx, live) {
		return
	}
	if st := validate(req, s.me); st.Code != 0 {
		s.reply(req, tx, st)
		return
	}
	s.reply(req, tx, s.dispatch(req, tx))
}

// dispatch hands the request to its method's handler and returns that
// handler's Status; handle writes it.
func (s *Server) dispatch(req *sip.Request, tx sip.ServerTransaction) Status {
	switch req.Method {
	case sip.REGISTER:
		return s.handleRegister(req, tx)
	case sip.INVITE:
		return s.handleInvite(req, tx)
	case sip.ACK:
		s.handleAck(req)
		return Status{}
	case sip.CANCEL:
		// A CANCEL matching a pending INVITE never gets here (the transaction
		// layer answers it and the INVITE handler sees tx.OnCancel).
		return refuse(481, "Call/Transaction Does Not Exist")
	case sip.OPTIONS:
		return s.handleOptions(req, tx)
	case sip.SUBSCRIBE:
		return s.handleSubscribe(req, tx)
	case sip.BYE, sip.NOTIFY, sip.REFER, sip.INFO, sip.UPDATE, sip.PRACK, sip.MESSAGE:
		return s.handleInDialog(req, tx)
	default:
		if hasToTag(req) && s.hasOurRoute(req) {
			return s.handleInDialog(req, tx) // an extension method inside a dialog: route it
		}
		return refuse(405, "Method Not Allowed", sip.NewHeader("Allow", allowed))
	}
}

// Status is a handler's outcome: the final response to send, or the zero
// Status when the handler has already answered or relayed the request.
// reply is the one place a Status becomes a response.
type Status struct {
	Code    int
	Reason  string
	Headers []sip.Header // extra headers: Retry-After, Allow, Unsupported, ...
}

// refuse is the Status that answers code and reason, with extra headers.
func refuse(code int, reason string, hdrs ...sip.Header) Status {
	return Status{Code: code, Reason: reason, Headers: hdrs}
}

// response is st as a response to req.
func (st Status) response(req *sip.Request) *sip.Response {
	res := sip.NewResponseFromRequest(req, st.Code, st.Reason, nil)
	res.SipVersion = "SIP/2.0" // not the request's (505 to SIP/7.0)
	for _, h := range st.Headers {
		res.AppendHeader(h)
	}
	return res
}

// reply writes a handler's Status through send (so the stateless guard of
// flood.go applies); the zero Status and any ACK get nothing.
func (s *Server) reply(req *sip.Request, tx sip.ServerTransaction, st Status) {
	if st.Code == 0 || req.IsAck() {
		return
	}
	s.send(tx, st.response(req))
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

// validate applies RFC 3261 §16.3 request validation plus the checks the
// RFC 4475 torture tests expect: version, mandatory headers, CSeq method,
// Max-Forwards, loops, Proxy-Require, URI scheme.
func validate(req *sip.Request, me *self) Status {
	if req.SipVersion != "SIP/2.0" {
		return refuse(505, "Version Not Supported")
	}
	switch {
	case req.From() == nil:
		return refuse(400, "Missing From")
	case req.To() == nil:
		return refuse(400, "Missing To")
	case req.CallID() == nil || req.CallID().Value() == "":
		return refuse(400, "Missing Call-ID")
	case req.CSeq() == nil:
		return refuse(400, "Missing CSeq")
	case req.Via() == nil:
		return refuse(400, "Missing Via")
	}
	// sipgo upper-cases the request line's method but not CSeq's.
	if !strings.EqualFold(string(req.CSeq().MethodName), string(req.Method)) {
		return refuse(400, "CSeq Method Mismatch")
	}
	if len(req.Recipient.Headers) > 0 {
		return refuse(400, "Headers In Request-URI") // RFC 3261 §19.1.5, RFC 4475 escruri
	}
	// One pass over the headers: sipgo's GetHeader and GetHeaders lower-case
	// the name of every header they pass (an allocation for most names),
	// and each look-up walked them all. Names compare as sipgo compares
	// them: ASCII letters without case.
	var date sip.Header
	var loop, proxyRequire bool
	for _, h := range req.Headers() {
		switch name := h.Name(); {
		case date == nil && reply.NameIs(name, "date"):
			date = h
		case reply.NameIs(name, "via"):
			if v, ok := h.(*sip.ViaHeader); ok && me != nil && me.viaIsMe(v) {
				loop = true
			}
		case reply.NameIs(name, "proxy-require"):
			proxyRequire = true
		}
	}
	if date != nil {
		if _, err := time.Parse(registrar.DateFormat, strings.TrimSpace(date.Value())); err != nil {
			return refuse(400, "Bad Date") // RFC 3261 §20.17: GMT only
		}
	}
	if cl := req.ContentLength(); cl != nil && int(*cl) != len(req.Body()) {
		return refuse(400, "Content-Length Mismatch")
	}
	if mf := req.MaxForwards(); mf != nil && mf.Val() == 0 && req.Method != sip.OPTIONS {
		return refuse(483, "Too Many Hops")
	}
	if loop {
		return refuse(482, "Loop Detected")
	}
	if proxyRequire {
		if ext := headerList(req, "Proxy-Require"); len(ext) > 0 {
			return refuse(420, "Bad Extension", sip.NewHeader("Unsupported", strings.Join(ext, ", ")))
		}
	}
	if sc := strings.ToLower(req.Recipient.Scheme); sc != "sip" && sc != "sips" {
		return refuse(416, "Unsupported URI Scheme")
	}
	return Status{}
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
func (s *Server) handleOptions(req *sip.Request, tx sip.ServerTransaction) Status {
	if hasToTag(req) && s.hasOurRoute(req) {
		return s.handleInDialog(req, tx)
	}
	res := sip.NewResponseFromRequest(req, 200, "OK", nil)
	res.AppendHeader(sip.NewHeader("Allow", allowed))
	res.AppendHeader(sip.NewHeader("Accept", "application/sdp"))
	s.send(tx, res)
	return Status{}
}
