package fork

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Branch INVITEs run in client transactions the Executor keeps itself
// rather than in sipgo's transaction layer, for one reason: the ACK that
// sipgo's INVITE client transaction sends for a non-2xx final response
// copies every Via of the INVITE, where RFC 3261 §17.1.1.3 wants exactly
// one, the INVITE's top Via (ours). A proxy's INVITE carries the caller's
// Via below ours, so the phone got an ACK with two. The transaction is
// still sipgo's (sip.NewClientTx: same state machine) until its final
// response; only its connection is wrapped so that such an ACK leaves with
// its top Via alone. At the final response it is released (HandleResponse)
// and a compact record answers retransmissions (retain.go).
//
// sipgo's transaction layer does not know these transactions, so the
// responses to them reach the UA's unhandled-response handler, which must
// call Executor.HandleResponse first (sip.WithTransactionLayerUnhandledResponseHandler).

// txTable is the Executor's INVITE client transactions by key, while
// they wait for their final response; what is kept after it is in the
// Executor's record stores (retain.go).
type txTable struct {
	mu sync.Mutex
	m  map[string]*branchTx
}

// branchTx is a branch INVITE transaction: sipgo's, except that a 2xx is
// handed to the call on a channel of its own instead of through sipgo's
// state machine, whose Accepted state would keep the transaction, its
// INVITE and the 2xx behind a 32 s timer (Timer M) that Terminate does not
// stop.
type branchTx struct {
	*sip.ClientTx
	accepted chan *sip.Response
}

// Accepted delivers the transaction's 2xx (the watcher reads it beside
// Responses).
func (b *branchTx) Accepted() <-chan *sip.Response { return b.accepted }

// inviteTransaction sends req (complete: Via, Record-Route, destination
// set) in a new INVITE client transaction of ours.
func (e *Executor) inviteTransaction(ctx context.Context, req *sip.Request) (sip.ClientTransaction, error) {
	if e.cli.TxRequester != nil {
		// The client's own requester hook (sipgo's, for custom transaction
		// handling) wins, as it does for every other request we send.
		return e.cli.TxRequester.Request(ctx, req)
	}
	key, err := sip.ClientTxKeyMake(req)
	if err != nil {
		return nil, fmt.Errorf("transaction key: %w", err)
	}
	conn, err := e.cli.TransportLayer().ClientRequestConnection(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("connection for %s: %w", req.Destination(), err)
	}
	ac := &ackConn{Connection: conn, dest: req.Destination(), udp: !sip.IsReliable(req.Transport()),
		key: key, keep: e.completed}
	tx := &branchTx{ClientTx: sip.NewClientTx(key, req, ac, e.log), accepted: make(chan *sip.Response)}
	e.txs.mu.Lock()
	if _, dup := e.txs.m[key]; dup {
		e.txs.mu.Unlock()
		_, _ = conn.TryClose()
		return nil, fmt.Errorf("client transaction %q already exists", key)
	}
	if e.txs.m == nil {
		e.txs.m = make(map[string]*branchTx)
	}
	e.txs.m[key] = tx
	e.txs.mu.Unlock()
	tx.OnTerminate(func(key string, _ error) {
		e.txs.mu.Lock()
		if e.txs.m[key] == tx {
			delete(e.txs.m, key)
		}
		e.txs.mu.Unlock()
	})
	if err := tx.Init(); err != nil {
		tx.Terminate()
		return nil, err
	}
	return tx, nil
}

// HandleResponse hands a response to the branch INVITE transaction it
// belongs to, or answers a retransmission of a final response from the
// record that transaction left (retain.go), and reports whether the
// response was ours. The UA's unhandled-response handler must call it
// (sipgo runs that handler on its own goroutine, and Receive may block
// until the call's watcher reads the response).
//
// A final response releases the transaction at once: it is taken out of
// the table before sipgo sees it (so a retransmission racing it meets the
// record, never sipgo's Completed state, which would wait T2 before
// ACKing again), the ACK of a non-2xx is sent inside Receive, a 2xx goes
// to the call without sipgo (branchTx), and the transaction is terminated
// once the call has the response.
func (e *Executor) HandleResponse(res *sip.Response) bool {
	key, err := sip.ClientTxKeyMake(res)
	if err != nil {
		return false
	}
	final := res.StatusCode >= 200
	e.txs.mu.Lock()
	tx, ok := e.txs.m[key]
	if ok && final {
		delete(e.txs.m, key)
	}
	e.txs.mu.Unlock()
	if ok {
		if res.IsSuccess() {
			select { // the watcher is there unless the call ended
			case tx.accepted <- res:
			case <-tx.Done():
			}
		} else {
			tx.Receive(res) // a non-2xx is ACKed and its record kept inside (ackConn)
		}
		if final {
			tx.Terminate()
		}
		return true
	}
	if ct, ok := e.cancels.get(key); ok {
		ct.receive(res)
		return true
	}
	if !final {
		return false
	}
	if res.StatusCode >= 300 {
		rec, ok := e.completed.get(key)
		if !ok {
			return false
		}
		if _, err := rec.w.WriteTo(rec.ack, net.UDPAddrFromAddrPort(rec.to)); err != nil {
			e.log.Debug("ACK not resent", "call_id", callIDOf(res), "error", err)
		}
		return true
	}
	rec, ok := e.accepted.get(key)
	if !ok {
		return false
	}
	e.resend2xx(rec, res)
	return true
}

// resend2xx relays a retransmission of the answering branch's 2xx to the
// caller, or ACKs again a 2xx that never went upstream.
func (e *Executor) resend2xx(rec record, res *sip.Response) {
	switch {
	case rec.up != nil:
		o := res.Clone()
		o.RemoveHeader("Via")
		if rec.up.from != nil {
			o.ReplaceHeader(sip.HeaderClone(rec.up.from))
		}
		o.SetTransport(rec.up.transport)
		o.SetDestination(rec.up.dest)
		if err := e.cli.TransportLayer().WriteMsg(o); err != nil {
			e.log.Debug("2xx retransmission not relayed", "call_id", callIDOf(res), "error", err)
		}
	case rec.ack2xx != nil:
		if err := e.cli.WriteRequest(rec.ack2xx.Clone(), keep); err != nil {
			e.log.Debug("ACK not resent", "call_id", callIDOf(res), "error", err)
		}
	}
}

// LiveTransactions counts the branch INVITE transactions waiting for a
// final response (for tests and metrics).
func (e *Executor) LiveTransactions() int {
	e.txs.mu.Lock()
	defer e.txs.mu.Unlock()
	return len(e.txs.m)
}

// LiveCancels counts the branch CANCEL transactions waiting for a final
// response (for tests and metrics).
func (e *Executor) LiveCancels() int { return e.cancels.len() }

// Retained counts the records kept for retransmitted final responses
// (for tests and metrics).
func (e *Executor) Retained() int {
	return e.completed.len() + e.accepted.len()
}

// ackConn is a branch transaction's connection. It sends the ACK of a
// non-2xx final response with the INVITE's top Via only (RFC 3261
// §17.1.1.3; sipgo's copies every Via, and a proxy's INVITE carries the
// caller's below ours) and, over UDP, keeps the bytes it sent as the
// transaction's record before the response is even passed up, so that
// the transaction can be released while a retransmitted final response
// still gets the same ACK. Everything else passes unchanged.
type ackConn struct {
	sip.Connection
	dest string // where the INVITE went, "ip:port"
	udp  bool
	key  string // the transaction's
	keep *store // where its record goes
}

func (c *ackConn) WriteMsg(msg sip.Message) error {
	req, ok := msg.(*sip.Request)
	if !ok || !req.IsAck() {
		return c.Connection.WriteMsg(msg)
	}
	w, isPacket := c.Connection.(packetWriter)
	ap, err := netip.ParseAddrPort(c.dest)
	if !c.udp || !isPacket || err != nil || c.keep == nil {
		// Reliable transports need no record; a destination that is not
		// an address (a host name) is left to sipgo to resolve.
		topViaOnly(req)
		return c.Connection.WriteMsg(msg)
	}
	buf := ackBufs.Get().(*bytes.Buffer)
	buf.Reset()
	writeTopViaOnly(buf, req)
	ack := bytes.Clone(buf.Bytes()) // exact size: it is kept for the wait timer
	ackBufs.Put(buf)
	// The record first: the phone may retransmit its final the moment it
	// sees this ACK (if an earlier copy of the final crossed it).
	c.keep.put(c.key, record{ack: ack, to: ap, w: w})
	if _, err := w.WriteTo(ack, net.UDPAddrFromAddrPort(ap)); err != nil {
		return fmt.Errorf("write ACK to %s: %w", c.dest, err)
	}
	return nil
}

var ackBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeTopViaOnly serializes r as sipgo does, but with its first Via only.
func writeTopViaOnly(buf *bytes.Buffer, r *sip.Request) {
	r.StartLineWrite(buf)
	buf.WriteString("\r\n")
	via := false
	for _, h := range r.Headers() {
		if strings.EqualFold(h.Name(), "Via") {
			if via {
				continue
			}
			via = true
		}
		h.StringWrite(buf)
		buf.WriteString("\r\n")
	}
	buf.WriteString("\r\n")
	buf.Write(r.Body())
}

// topViaOnly removes every Via of r but the first.
func topViaOnly(r *sip.Request) {
	vias := r.GetHeaders("Via")
	if len(vias) < 2 {
		return
	}
	top := sip.HeaderClone(vias[0])
	for range vias {
		r.RemoveHeader(vias[0].Name())
	}
	r.PrependHeader(top)
}

func callIDOf(m sip.Message) string {
	if h := m.CallID(); h != nil {
		return h.Value()
	}
	return ""
}
