package fork

import (
	"bytes"

	"github.com/emiago/sipgo/sip"
)

// The ACK of a non-2xx final and a branch CANCEL go out over UDP as bytes
// that are kept (the ACK's as the transaction's record, the CANCEL's for
// its retransmissions), so building a sip.Request for them only to
// serialize it once cost a request, a header list and copies of five
// headers each, 48 times per 25-way call. These writers serialize the
// same messages straight from the INVITE's (and the response's) parsed
// headers, byte for byte what the requests ackNon2xx and CancelFor build
// serialize to (wire_test.go holds them to that). The INVITE is read only:
// it is the branch's as sent.

// writeAckNon2xx writes the ACK of res, a non-2xx final response to inv
// (RFC 3261 §17.1.1.3): see ackNon2xx, whose message it is.
func writeAckNon2xx(buf *bytes.Buffer, inv *sip.Request, res *sip.Response) {
	to := res.To()
	writeInviteSibling(buf, sip.ACK, inv.SipVersion, inv, to, "")
}

// writeCancel writes the CANCEL of inv with reason (none when empty): see
// CancelFor, whose message it is.
func writeCancel(buf *bytes.Buffer, inv *sip.Request, reason string) {
	writeInviteSibling(buf, sip.CANCEL, "SIP/2.0", inv, inv.To(), reason)
}

// writeInviteSibling writes a request of inv's transaction (its ACK or
// CANCEL): inv's Request-URI, top Via, Route set, From, Call-ID and CSeq
// number with method, then to, a Reason and an empty body.
func writeInviteSibling(buf *bytes.Buffer, method sip.RequestMethod, version string, inv *sip.Request, to *sip.ToHeader, reason string) {
	buf.WriteString(string(method))
	buf.WriteByte(' ')
	inv.Recipient.StringWrite(buf)
	buf.WriteByte(' ')
	buf.WriteString(version)
	buf.WriteString("\r\n")
	line := func(h sip.Header) {
		h.StringWrite(buf)
		buf.WriteString("\r\n")
	}
	if h := inv.Via(); h != nil {
		line(h)
	}
	for _, h := range inv.GetHeaders("Route") {
		line(h)
	}
	mf := sip.MaxForwardsHeader(70)
	mf.StringWrite(buf)
	buf.WriteString("\r\n")
	if h := inv.From(); h != nil {
		line(h)
	}
	if to != nil {
		line(to)
	}
	if h := inv.CallID(); h != nil {
		line(h)
	}
	if h := inv.CSeq(); h != nil {
		cseq := sip.CSeqHeader{SeqNo: h.SeqNo, MethodName: method}
		cseq.StringWrite(buf)
		buf.WriteString("\r\n")
	}
	if reason != "" {
		line(sip.NewHeader("Reason", reason))
	}
	sip.ContentLengthHeader(0).StringWrite(buf)
	buf.WriteString("\r\n\r\n")
}
