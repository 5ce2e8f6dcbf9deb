package fork

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Branch INVITEs run in client transactions of the Executor's own rather
// than in sipgo's transaction layer. First because the ACK that sipgo's
// INVITE client transaction sends for a non-2xx final response copies
// every Via of the INVITE, where RFC 3261 §17.1.1.3 wants exactly one,
// the INVITE's top Via (ours); a proxy's INVITE carries the caller's Via
// below ours. Then for cost: a 25-way fork ran 25 sipgo state machines
// per call, each with two timers and a watcher goroutine that the
// transaction handed every response to over an unbuffered channel; ours
// is one timer (Timer A, then Timer B, both only while Calling) and hands
// responses to the call's loop directly, in order, from the goroutine
// sipgo reads them on. At the final response the transaction is released
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

// Transaction states of a branchTx.
const (
	txCalling = iota
	txProceeding
	txEnded
)

// branchTx is a branch INVITE client transaction (RFC 3261 §17.1.1).
type branchTx struct {
	tab  *txTable
	key  string
	req  *sip.Request // the INVITE as sent; read only
	conn ackConn      // holds our reference on the connection until the end (in place: one allocation less per branch)
	// deliver hands a response, or the error that ended the transaction
	// without one, to the call; it is called under mu, in order, and not
	// after the transaction ended.
	deliver func(res *sip.Response, err error)

	mu       sync.Mutex
	state    int
	timer    *time.Timer   // Timer A (UDP) and Timer B, Calling only
	interval time.Duration // Timer A's next value; 0 = none (reliable)
	timeout  time.Time     // Timer B
}

// inviteTransaction sends req (complete: Via, Record-Route, destination
// set) in a new INVITE client transaction of ours; deliver gets its
// responses (see branchTx).
func (e *Executor) inviteTransaction(ctx context.Context, req *sip.Request, deliver func(*sip.Response, error)) (*branchTx, error) {
	key, err := sip.ClientTxKeyMake(req)
	if err != nil {
		return nil, fmt.Errorf("transaction key: %w", err)
	}
	conn, err := e.cli.TransportLayer().ClientRequestConnection(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("connection for %s: %w", req.Destination(), err)
	}
	udp := !sip.IsReliable(req.Transport())
	tx := &branchTx{tab: &e.txs, key: key, req: req, deliver: deliver,
		conn: ackConn{Connection: conn, dest: req.Destination(), udp: udp, key: key, keep: e.completed}}
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
	// The timer before the send: a response may come back at once.
	tx.mu.Lock()
	tx.timeout = time.Now().Add(sip.Timer_B)
	first := sip.Timer_B
	if udp {
		tx.interval = sip.Timer_A
		first = sip.Timer_A
	}
	tx.timer = time.AfterFunc(first, tx.fire)
	tx.mu.Unlock()
	if err := conn.WriteMsg(req); err != nil {
		tx.Terminate()
		return nil, fmt.Errorf("send %s: %w", req.StartLine(), errors.Join(sip.ErrTransactionTransport, err))
	}
	return tx, nil
}

// fire is Timer A (UDP: send the INVITE again, the interval doubling)
// and Timer B (give up: the call sees a timeout, 408).
func (tx *branchTx) fire() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state != txCalling {
		return
	}
	left := time.Until(tx.timeout)
	if left <= 0 || tx.interval == 0 {
		tx.endLocked(fmt.Errorf("no response to the INVITE: %w", sip.ErrTransactionTimeout))
		return
	}
	if err := tx.conn.WriteMsg(tx.req); err != nil {
		tx.endLocked(fmt.Errorf("resend INVITE: %w", errors.Join(sip.ErrTransactionTransport, err)))
		return
	}
	tx.interval *= 2
	tx.timer.Reset(min(tx.interval, left))
}

// endLocked ends the transaction without a final response and tells the
// call why. The caller holds mu.
func (tx *branchTx) endLocked(err error) {
	tx.stopLocked()
	tx.deliver(nil, err)
}

// stopLocked releases the transaction: its timer, its table entry and its
// reference on the connection. The caller holds mu.
func (tx *branchTx) stopLocked() {
	tx.state = txEnded
	tx.timer.Stop()
	tx.tab.mu.Lock()
	if tx.tab.m[tx.key] == tx {
		delete(tx.tab.m, tx.key)
	}
	tx.tab.mu.Unlock()
	_, _ = tx.conn.TryClose()
}

// Terminate ends the transaction without telling the call (it is the
// call that ends it).
func (tx *branchTx) Terminate() {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state != txEnded {
		tx.stopLocked()
	}
}

// receive takes a response to the INVITE. A provisional one stops Timers
// A and B (Proceeding); a final one releases the transaction, after the
// ACK of a non-2xx went out (its record kept by ackConn), and a 2xx is the
// call's to ACK, end to end.
func (tx *branchTx) receive(res *sip.Response) {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if tx.state == txEnded {
		return
	}
	if res.StatusCode < 200 {
		if tx.state == txCalling {
			tx.state = txProceeding
			tx.timer.Stop()
		}
		tx.deliver(res, nil)
		return
	}
	if res.StatusCode >= 300 {
		if err := tx.conn.ack(tx.req, res); err != nil {
			tx.deliver(nil, fmt.Errorf("ACK %d: %w", res.StatusCode, errors.Join(sip.ErrTransactionTransport, err)))
			tx.stopLocked()
			return
		}
	}
	tx.stopLocked()
	tx.deliver(res, nil)
}

// ackNon2xx is the ACK of a non-2xx final response (RFC 3261 §17.1.1.3):
// the INVITE's Request-URI, top Via alone, Route, From, Call-ID and CSeq
// number, the response's To. It shares the INVITE's headers rather than
// copying them: it is only written, once (ackConn).
func ackNon2xx(inv *sip.Request, res *sip.Response) *sip.Request {
	ack := sip.NewRequest(sip.ACK, inv.Recipient)
	ack.SipVersion = inv.SipVersion
	if h := inv.Via(); h != nil {
		ack.AppendHeader(h)
	}
	for _, h := range inv.GetHeaders("Route") {
		ack.AppendHeader(h)
	}
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	if h := inv.From(); h != nil {
		ack.AppendHeader(h)
	}
	if h := res.To(); h != nil {
		ack.AppendHeader(h)
	}
	if h := inv.CallID(); h != nil {
		ack.AppendHeader(h)
	}
	if h := inv.CSeq(); h != nil {
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: h.SeqNo, MethodName: sip.ACK})
	}
	ack.SetBody(nil)
	ack.SetTransport(inv.Transport())
	ack.SetSource(inv.Source())
	ack.SetDestination(inv.Destination())
	ack.Laddr = inv.Laddr
	return ack
}

// HandleResponse hands a response to the branch INVITE or CANCEL
// transaction it belongs to, or answers a retransmission of a final
// response from the record an INVITE transaction left (retain.go), and
// reports whether the response was ours. The UA's unhandled-response
// handler must call it (sipgo runs that handler on its own goroutine, and
// handing a response to its call may wait for the call's loop).
//
// A final response releases the transaction at once: it is taken out of
// the table first (so a retransmission racing it meets the record, never
// a transaction that would ACK or deliver it twice).
func (e *Executor) HandleResponse(res *sip.Response) bool {
	var buf keyBuf
	key, ok := txKey(buf[:0], res, "")
	if !ok {
		return false
	}
	final := res.StatusCode >= 200
	e.txs.mu.Lock()
	tx, ok := e.txs.m[string(key)]
	if ok && final {
		delete(e.txs.m, tx.key)
	}
	e.txs.mu.Unlock()
	if ok {
		tx.receive(res)
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

// ack sends the ACK of res, a non-2xx final response to inv. Over UDP to
// an address its bytes are written straight from inv and res (wire.go)
// and kept as the record; otherwise (reliable transports need no record;
// a host name is left to sipgo to resolve) ackNon2xx's request goes
// through WriteMsg.
func (c *ackConn) ack(inv *sip.Request, res *sip.Response) error {
	w, isPacket := c.Connection.(packetWriter)
	ap, err := netip.ParseAddrPort(c.dest)
	if !c.udp || !isPacket || err != nil || c.keep == nil {
		return c.WriteMsg(ackNon2xx(inv, res))
	}
	buf := ackBufs.Get().(*bytes.Buffer)
	buf.Reset()
	writeAckNon2xx(buf, inv, res)
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

// WriteMsg sends msg, an ACK with the INVITE's top Via only.
func (c *ackConn) WriteMsg(msg sip.Message) error {
	if req, ok := msg.(*sip.Request); ok && req.IsAck() {
		topViaOnly(req)
	}
	return c.Connection.WriteMsg(msg)
}

var ackBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

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
