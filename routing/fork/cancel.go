package fork

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// A branch CANCEL runs in a non-INVITE client transaction of the
// Executor's own rather than through sipgo's Client.Do: a 25-way fork
// CANCELs 24 branches per call, and Do cost each of them a goroutine, a
// request rebuild and sipgo's state machine with its two timers. Ours is
// one timer (Timer E, then Timer F) that runs nothing until it fires, the
// CANCEL serialized once (UDP: retransmissions resend the same bytes),
// and a table entry that Executor.HandleResponse matches the CANCEL's
// responses against (sipgo's transaction layer does not know it).
//
// It ends at its final response, at Timer F (the Executor's Linger, 64·T1
// by default: nothing more is done, as RFC 3261 §9.1 asks of a CANCEL
// without a final response), or when the INVITE it cancels has its final
// response (leg.release): the CANCEL has done its job then, and a
// retransmission would reach a phone that already finished the INVITE.

// cancelTable is the Executor's live CANCEL transactions by key.
type cancelTable struct {
	mu sync.Mutex
	m  map[string]*cancelTx
}

// cancelTx is one CANCEL's client transaction.
type cancelTx struct {
	tab  *cancelTable
	key  string
	inv  *sip.Request   // the INVITE it cancels (read only): Call-ID and destination for the log
	req  *sip.Request   // the CANCEL, when it is not sent as raw bytes
	conn sip.Connection // a reference of ours, released at the end
	log  *slog.Logger
	// UDP to an address: the CANCEL as first sent, resent as is.
	raw []byte
	pw  packetWriter
	to  net.Addr

	mu       sync.Mutex
	timer    *time.Timer
	interval time.Duration // Timer E's next value
	giveUp   time.Time     // Timer F
	ended    bool
}

// startCancel sends the CANCEL of inv, a branch INVITE as sent, with
// reason (see CancelFor) over conn (whose reference passes to the
// transaction) and starts its timers; the transaction gives up after
// giveUp. req is that CANCEL when the caller had to build it (to find
// conn); else, over UDP to an address, the CANCEL is written straight to
// bytes (wire.go), never built as a request.
func (e *Executor) startCancel(inv *sip.Request, reason string, req *sip.Request, conn sip.Connection, giveUp time.Duration) (*cancelTx, error) {
	var kb keyBuf
	key, ok := txKey(kb[:0], inv, sip.CANCEL) // ClientTxKeyMake of the CANCEL
	if !ok {
		_, _ = conn.TryClose()
		return nil, errors.New("CANCEL transaction key: INVITE without Via branch or CSeq")
	}
	ct := &cancelTx{tab: &e.cancels, key: string(key), inv: inv, conn: conn, log: e.log}
	udp := !sip.IsReliable(inv.Transport())
	if pw, ok := conn.(packetWriter); ok && udp {
		if ap, err := netip.ParseAddrPort(inv.Destination()); err == nil {
			buf := ackBufs.Get().(*bytes.Buffer)
			buf.Reset()
			if req != nil {
				req.StringWrite(buf)
			} else {
				writeCancel(buf, inv, reason)
			}
			ct.raw = bytes.Clone(buf.Bytes())
			ackBufs.Put(buf)
			ct.pw, ct.to = pw, net.UDPAddrFromAddrPort(ap)
		}
	}
	if ct.raw == nil && req == nil {
		req = CancelFor(inv, reason)
	}
	ct.req = req
	if !e.cancels.add(ct) {
		_, _ = conn.TryClose()
		return nil, fmt.Errorf("CANCEL transaction %q already exists", ct.key)
	}
	// The timer before the first send: a response may come back at once.
	ct.mu.Lock()
	ct.giveUp = time.Now().Add(giveUp)
	first := giveUp
	if udp {
		ct.interval = sip.T1
		first = min(sip.T1, giveUp)
	}
	ct.timer = time.AfterFunc(first, ct.fire)
	ct.mu.Unlock()
	if err := ct.send(); err != nil {
		ct.end()
		return nil, fmt.Errorf("send CANCEL to %s: %w", inv.Destination(), err)
	}
	return ct, nil
}

func (ct *cancelTx) send() error {
	if ct.raw != nil {
		_, err := ct.pw.WriteTo(ct.raw, ct.to)
		return err
	}
	return ct.conn.WriteMsg(ct.req)
}

// fire is Timer E (UDP: send again, the interval doubling up to T2) and
// Timer F (give up).
func (ct *cancelTx) fire() {
	ct.mu.Lock()
	if ct.ended {
		ct.mu.Unlock()
		return
	}
	left := time.Until(ct.giveUp)
	if left <= 0 || ct.interval == 0 {
		ct.mu.Unlock()
		ct.log.Debug("CANCEL unanswered", "call_id", callIDOf(ct.inv), "to", ct.inv.Destination())
		ct.end()
		return
	}
	if err := ct.send(); err != nil {
		ct.mu.Unlock()
		ct.log.Debug("CANCEL not resent", "call_id", callIDOf(ct.inv), "error", err)
		ct.end()
		return
	}
	ct.interval = min(2*ct.interval, sip.T2)
	ct.timer.Reset(min(ct.interval, left))
	ct.mu.Unlock()
}

// receive takes a response to the CANCEL: a provisional one slows the
// retransmissions to T2 (RFC 3261 §17.1.2.2, Proceeding), a final one
// ends the transaction.
func (ct *cancelTx) receive(res *sip.Response) {
	if res.StatusCode < 200 {
		ct.mu.Lock()
		if ct.interval != 0 {
			ct.interval = sip.T2
		}
		ct.mu.Unlock()
		return
	}
	if res.StatusCode >= 300 {
		ct.log.Debug("CANCEL refused", "call_id", callIDOf(ct.inv), "status", res.StatusCode)
	}
	ct.end()
}

// end stops the transaction once: its timer, its table entry and its
// reference on the connection.
func (ct *cancelTx) end() {
	ct.mu.Lock()
	if ct.ended {
		ct.mu.Unlock()
		return
	}
	ct.ended = true
	if ct.timer != nil {
		ct.timer.Stop()
	}
	ct.mu.Unlock()
	ct.tab.remove(ct)
	_, _ = ct.conn.TryClose()
}

func (t *cancelTable) add(ct *cancelTx) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, dup := t.m[ct.key]; dup {
		return false
	}
	if t.m == nil {
		t.m = make(map[string]*cancelTx)
	}
	t.m[ct.key] = ct
	return true
}

func (t *cancelTable) remove(ct *cancelTx) {
	t.mu.Lock()
	if t.m[ct.key] == ct {
		delete(t.m, ct.key)
	}
	t.mu.Unlock()
}

// get looks key up; key is a transaction key in a buffer (txKey).
func (t *cancelTable) get(key []byte) (*cancelTx, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ct, ok := t.m[string(key)]
	return ct, ok
}

// len counts the live CANCEL transactions (for tests and metrics).
func (t *cancelTable) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
