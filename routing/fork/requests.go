package fork

import (
	"context"
	"fmt"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Reason header values (RFC 3326) on our CANCELs.
const (
	reasonElsewhere = `SIP;cause=200;text="Call completed elsewhere"`
	reasonCaller    = `SIP;cause=487;text="Request Terminated"`
)

// sendCancel CANCELs leg i (docs/libraries.md §1.6 cancelFor) in a CANCEL
// transaction of ours (cancel.go) over the INVITE's connection, giving up
// after Linger; the leg's watcher sees its 487, whose arrival ends the
// CANCEL too (release).
func (c *call) sendCancel(i int) {
	l := c.legs[i]
	if l.req == nil || l.ct == nil || l.cancel != nil {
		return
	}
	reason := ""
	switch c.agg.legs[i].cancel {
	case whyAnswered:
		reason = reasonElsewhere // the phone must not log a missed call
	case whyCaller:
		reason = c.cancelled.why() // pass on an upstream fork's Reason
		if !safeHeader(reason) || reason == "" {
			reason = reasonCaller
		}
	}
	conn, cancel, err := c.cancelConn(l, reason)
	if err == nil {
		var ct *cancelTx
		if ct, err = c.e.startCancel(l.req, reason, cancel, conn, c.e.linger); err == nil {
			l.cancel = ct
			return
		}
	}
	c.log.Debug("CANCEL not sent", "contact", l.branch.Contact.URI, "error", err)
}

// cancelConn is a reference on the connection the leg's INVITE went over
// (RFC 3261 §9.1: the CANCEL goes where the INVITE went), or, for a
// transaction of a TxRequester, one sipgo finds for the CANCEL, which it
// then returns too (sipgo sets its Via's sent-by for that connection).
func (c *call) cancelConn(l *leg, reason string) (sip.Connection, *sip.Request, error) {
	if tx, ok := l.ct.(*branchTx); ok {
		tx.conn.Connection.Ref(1)
		return tx.conn.Connection, nil, nil
	}
	cancel := CancelFor(l.req, reason)
	ctx, stop := context.WithTimeout(c.hctx, legSetup)
	defer stop()
	conn, err := c.e.cli.TransportLayer().ClientRequestConnection(ctx, cancel)
	if err != nil {
		return nil, nil, fmt.Errorf("connection for %s: %w", cancel.Destination(), err)
	}
	return conn, cancel, nil
}

// CancelFor builds the CANCEL of a sent INVITE: same Request-URI, top Via
// (branch), Route, From, To, Call-ID and CSeq number (RFC 3261 §9.1),
// sent the same way.
func CancelFor(inv *sip.Request, reason string) *sip.Request {
	c := sip.NewRequest(sip.CANCEL, *inv.Recipient.Clone())
	c.AppendHeader(sip.HeaderClone(inv.Via()))
	sip.CopyHeaders("Route", inv, c)
	mf := sip.MaxForwardsHeader(70)
	c.AppendHeader(&mf)
	c.AppendHeader(sip.HeaderClone(inv.From()))
	c.AppendHeader(sip.HeaderClone(inv.To()))
	c.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.CANCEL})
	if reason != "" {
		c.AppendHeader(sip.NewHeader("Reason", reason))
	}
	c.SetBody(nil)
	c.SetTransport(inv.Transport())
	c.SetDestination(inv.Destination())
	c.Laddr = inv.Laddr
	return c
}

// ackBye completes and ends a dialog the caller will never see: a 2xx
// that lost the race (a second answer, or an answer after the caller
// cancelled or the call was decided). Retransmissions of that 2xx are
// ACKed again from the record kept for it (retain.go).
func (c *call) ackBye(i int, res *sip.Response) {
	l := c.legs[i]
	c.log.Info("late answer: ACK and BYE", "user", l.branch.User, "contact", l.branch.Contact.URI)
	c.e.emit(Event{Kind: EventBranchEnded, CallID: c.id, Branch: l.branch, Status: res.StatusCode})
	ack := inDialog(sip.ACK, l.req, res, l.req.CSeq().SeqNo)
	bye := inDialog(sip.BYE, l.req, res, l.req.CSeq().SeqNo+1)
	if err := sipgo.ClientRequestAddVia(c.e.cli, ack); err != nil {
		c.log.Warn("ACK not built", "error", err)
		return
	}
	c.retain(res, record{ack2xx: ack})
	if err := c.e.cli.WriteRequest(ack.Clone(), keep); err != nil {
		c.log.Info("ACK not sent", "error", err)
	}
	c.helpers.Add(1)
	go func() {
		defer c.helpers.Done()
		ctx, stop := context.WithTimeout(c.hctx, c.e.linger)
		defer stop()
		if _, err := c.e.cli.Do(ctx, bye, sipgo.ClientRequestAddVia); err != nil {
			c.log.Info("BYE of late answer unanswered", "error", err)
		}
	}()
}

// inDialog builds a request inside the dialog a leg's 2xx created, from
// our side as the leg's UAC: to the 2xx Contact, through the Record-Route
// entries added below us (reversed), or straight to where the INVITE went.
func inDialog(method sip.RequestMethod, inv *sip.Request, res *sip.Response, seq uint32) *sip.Request {
	uri := inv.Recipient
	if ct := res.Contact(); ct != nil {
		uri = ct.Address
	}
	r := sip.NewRequest(method, *uri.Clone())
	rr := res.GetHeaders("Record-Route")
	below := len(rr) - len(inv.GetHeaders("Record-Route"))
	for k := below - 1; k >= 0; k-- {
		if h, ok := rr[k].(*sip.RecordRouteHeader); ok {
			r.AppendHeader(&sip.RouteHeader{Address: *h.Address.Clone()})
		}
	}
	mf := sip.MaxForwardsHeader(70)
	r.AppendHeader(&mf)
	r.AppendHeader(sip.HeaderClone(inv.From()))
	r.AppendHeader(sip.HeaderClone(res.To()))
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	r.SetBody(nil)
	r.SetTransport(inv.Transport())
	r.Laddr = inv.Laddr
	if r.Route() == nil {
		r.SetDestination(inv.Destination()) // the binding's source: NAT-friendly
	}
	return r
}

// removeAll removes every header called name, whatever its case (P5).
func removeAll(m *sip.Request, name string) {
	for _, h := range m.GetHeaders(name) {
		m.RemoveHeader(h.Name())
	}
}

// safeDisplay keeps a display name safe inside the quotes sipgo writes.
func safeDisplay(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// safeHeader reports whether v can be written as a header value: no line
// breaks or other control characters (no header injection).
func safeHeader(v string) bool {
	return !strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}
