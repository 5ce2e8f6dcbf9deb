package routing

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"deskgate/routing/fork"
)

// handleInDialog routes a request inside a dialog by its Route headers.
func (s *Server) handleInDialog(req *sip.Request, tx sip.ServerTransaction) Status {
	if !hasToTag(req) {
		if req.Method == sip.MESSAGE || req.Method == sip.NOTIFY || req.Method == sip.REFER {
			return refuse(405, "Method Not Allowed Outside A Dialog", sip.NewHeader("Allow", allowed))
		}
		return refuse(481, "Call/Transaction Does Not Exist")
	}
	hop := s.nextHop(req)
	if hop.st.Code != 0 {
		s.log.Debug("in-dialog request refused", "method", string(req.Method), "call_id", callID(req),
			"status", hop.st.Code, "source", req.Source())
		return hop.st
	}
	if req.Method == sip.BYE {
		s.calls.end(callID(req))
		s.notifyLines(s.lines.end(callID(req), "", s.now()))
	}
	s.scaInDialog(req)
	return s.relay(req, tx, hop.fwd)
}

// handleAck forwards an ACK for a 2xx statelessly along its Route; an ACK
// for a non-2xx we answered statelessly (flood.go) has no Route of ours and
// ends here quietly.
func (s *Server) handleAck(req *sip.Request) {
	if !hasToTag(req) {
		return
	}
	hop := s.nextHop(req)
	if hop.st.Code != 0 {
		return // never answer an ACK
	}
	s.scaAck(req)
	if err := s.cli.WriteRequest(hop.fwd, sipgo.ClientRequestAddVia); err != nil {
		s.log.Debug("forward ACK", "call_id", callID(req), "error", err)
	}
}

// relayTimeout bounds one relayed transaction: Timer B/F plus slack; an
// INVITE inside a dialog (re-INVITE) may ring no longer than a call.
func relayTimeout(m sip.RequestMethod) time.Duration {
	if m == sip.INVITE {
		return 3 * time.Minute
	}
	return 64*sip.T1 + 5*time.Second
}

// relay forwards fwd statefully and relays every response but 100 back
// through tx until the final one. A CANCEL of a relayed INVITE is passed
// on; 2xx retransmissions of an INVITE are relayed from the retransmission
// hook (docs/libraries.md §1.4). It returns the answer to send when no
// final response came back.
func (s *Server) relay(req *sip.Request, tx sip.ServerTransaction, fwd *sip.Request) Status {
	markAdmitted(tx) // a relayed request is answered statefully (flood.go)
	ctx, cancel := context.WithTimeout(s.ctx, relayTimeout(req.Method))
	defer cancel()
	ct, err := s.cli.TransactionRequest(ctx, fwd, sipgo.ClientRequestAddVia)
	if err != nil {
		s.log.Info("relay failed", "method", string(req.Method), "call_id", callID(req),
			"destination", fwd.Destination(), "error", err)
		return refuse(503, "Service Unavailable")
	}
	if req.IsInvite() {
		ct.OnRetransmission(func(r *sip.Response) { s.send(tx, upstream(r)) })
		tx.OnCancel(func(*sip.Request) {
			go s.cancelBranch(fwd)
		})
	}
	for {
		select {
		case r := <-ct.Responses():
			if r.StatusCode == 100 {
				continue
			}
			s.send(tx, upstream(r))
			if r.StatusCode >= 200 {
				return Status{} // the client transaction finishes on its own timers
			}
		case <-ct.Done():
			if errors.Is(ct.Err(), sip.ErrTransactionTimeout) {
				return refuse(408, "Request Timeout")
			}
			return refuse(503, "Service Unavailable")
		case <-ctx.Done():
			ct.Terminate()
			return refuse(408, "Request Timeout")
		}
	}
}

// upstream copies a response for the previous hop: our Via popped and the
// frozen destination cleared (docs/libraries.md P1).
func upstream(r *sip.Response) *sip.Response {
	o := r.Clone()
	o.RemoveHeader("Via")
	o.SetDestination("")
	o.SetTransport("")
	return o
}

func (s *Server) cancelBranch(inv *sip.Request) {
	ctx, cancel := context.WithTimeout(context.Background(), 64*sip.T1)
	defer cancel()
	if _, err := s.cli.Do(ctx, fork.CancelFor(inv, ""), sipgo.ClientRequestBuild); err != nil {
		s.log.Debug("cancel relayed INVITE", "call_id", callID(inv), "error", err)
	}
}

// strayResponse drops a response that matches no client transaction and
// no record a released branch transaction left (fork.Executor.HandleResponse):
// RFC 6026 forbids a proxy to forward stray responses to INVITE (RFC 3261
// §16.7 step 10 forwarded stray 2xx). A 2xx retransmission of an answered
// branch is relayed from the fork's record during the Accepted state (64·T1)
// and a relayed request's from its sipgo transaction; anything after that,
// a 200 to a CANCEL whose transaction ended at its first 200, or a response
// with a forged Via of ours is noise: one debug line, nothing sent.
func (s *Server) strayResponse(r *sip.Response) {
	if !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s.log.Debug("stray response dropped", "status", r.StatusCode, "call_id", callIDOf(r), "cseq", cseqOf(r))
}

func cseqOf(r *sip.Response) string {
	if h := r.CSeq(); h != nil {
		return h.Value()
	}
	return ""
}
