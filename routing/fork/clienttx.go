package fork

import (
	"context"
	"fmt"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// Branch INVITEs run in client transactions the Executor keeps itself
// rather than in sipgo's transaction layer, for one reason: the ACK that
// sipgo's INVITE client transaction sends for a non-2xx final response
// copies every Via of the INVITE, where RFC 3261 §17.1.1.3 wants exactly
// one, the INVITE's top Via (ours). A proxy's INVITE carries the caller's
// Via below ours, so the phone got an ACK with two. The transaction is
// still sipgo's (sip.NewClientTx: same timers and state machine); only its
// connection is wrapped so that such an ACK leaves with its top Via alone.
//
// sipgo's transaction layer does not know these transactions, so the
// responses to them reach the UA's unhandled-response handler, which must
// call Executor.HandleResponse first (sip.WithTransactionLayerUnhandledResponseHandler).

// txTable is the Executor's INVITE client transactions by key.
type txTable struct {
	mu sync.Mutex
	m  map[string]*sip.ClientTx
}

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
	tx := sip.NewClientTx(key, req, oneViaACK{conn}, e.log)
	e.txs.mu.Lock()
	if _, dup := e.txs.m[key]; dup {
		e.txs.mu.Unlock()
		_, _ = conn.TryClose()
		return nil, fmt.Errorf("client transaction %q already exists", key)
	}
	if e.txs.m == nil {
		e.txs.m = make(map[string]*sip.ClientTx)
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
// belongs to and reports whether there was one. The UA's unhandled-response
// handler must call it (sipgo runs that handler on its own goroutine, and
// Receive may block until the call's watcher reads the response).
func (e *Executor) HandleResponse(res *sip.Response) bool {
	key, err := sip.ClientTxKeyMake(res)
	if err != nil {
		return false
	}
	e.txs.mu.Lock()
	tx, ok := e.txs.m[key]
	e.txs.mu.Unlock()
	if ok {
		tx.Receive(res)
	}
	return ok
}

// oneViaACK is a client transaction's connection that sends an ACK with
// its top Via only (RFC 3261 §17.1.1.3); everything else passes unchanged.
type oneViaACK struct{ sip.Connection }

func (c oneViaACK) WriteMsg(msg sip.Message) error {
	if req, ok := msg.(*sip.Request); ok && req.IsAck() {
		topViaOnly(req)
	}
	return c.Connection.WriteMsg(msg)
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
