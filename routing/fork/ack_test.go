package fork

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// rawPhone is a UDP socket that answers the first INVITE with a final
// status and returns the next request it reads (the transaction's ACK),
// so the test sees exactly what was on the wire (a sipgo phone's server
// transaction would absorb that ACK).
func rawPhone(t *testing.T, status int) (ringplan.Branch, <-chan *sip.Request) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	addr := pc.LocalAddr().String()
	acks := make(chan *sip.Request, 1)
	go func() {
		buf := make([]byte, 65535)
		for range 10 { // INVITE (and its retransmissions), then the ACK
			_ = pc.SetReadDeadline(time.Now().Add(testTimeout))
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			req, ok := msg.(*sip.Request)
			if err != nil || !ok {
				continue
			}
			switch req.Method {
			case sip.INVITE:
				tagged := req.Clone()
				tagged.To().Params.Add("tag", "rawphone")
				res := sip.NewResponseFromRequest(tagged, status, "Scripted", nil)
				_, _ = pc.WriteTo([]byte(res.String()), from)
			case sip.ACK:
				acks <- req
				return
			}
		}
	}()
	b := ringplan.Branch{User: "raw", Contact: ringplan.Contact{User: "raw", URI: "sip:raw@" + addr, Source: addr, Transport: "udp"}}
	return b, acks
}

// TestExecuteNon2xxACKHasOneVia: the ACK the proxy's INVITE client
// transaction sends for a branch's non-2xx final response carries one Via,
// the top Via of the INVITE it acknowledges (RFC 3261 §17.1.1.3), not the
// caller's as well.
func TestExecuteNon2xxACKHasOneVia(t *testing.T) {
	b, acks := rawPhone(t, 486)
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{b}}, "")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if status, _ := newCaller(t).call(ctx, t, px.port); status != 486 {
		t.Fatalf("caller got %d, want 486", status)
	}
	select {
	case ack := <-acks:
		vias := ack.GetHeaders("Via")
		if len(vias) != 1 {
			t.Fatalf("ACK has %d Via headers, want 1:\n%s", len(vias), ack)
		}
		v, ok := vias[0].(*sip.ViaHeader)
		if !ok || v.Port != px.port {
			t.Errorf("ACK Via = %v, want the proxy's (port %d)", vias[0], px.port)
		}
		if br, _ := v.Params.Get("branch"); br == "" {
			t.Errorf("ACK Via has no branch")
		}
	case <-time.After(testTimeout):
		t.Fatal("no ACK for the 486")
	}
	px.result(t)
}
