package fork

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"
)

// wireInvite is a branch INVITE as a phone would get it: our Via above
// the caller's, an optional Route set.
func wireInvite(t *testing.T, routes string) *sip.Request {
	t.Helper()
	raw := "INVITE sip:1001@127.0.0.1:16001;transport=udp SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:5080;branch=z9hG4bK-ours.1;rport\r\n" +
		"Via: SIP/2.0/UDP 127.0.0.1:15060;branch=z9hG4bK-1-1-0;received=127.0.0.1;rport=15060\r\n" +
		routes +
		"Record-Route: <sip:127.0.0.1:5080;lr>\r\n" +
		"Max-Forwards: 69\r\n" +
		"From: \"Caller For Boss\" <sip:1999@bench.test>;tag=1SIPpTag001\r\n" +
		"To: <sip:2000@bench.test>\r\n" +
		"Call-ID: 1-12345@127.0.0.1\r\n" +
		"CSeq: 2 INVITE\r\n" +
		"Contact: <sip:1999@127.0.0.1:15060>\r\n" +
		"Content-Type: application/sdp\r\n" +
		"Content-Length: 4\r\n\r\nv=0\n"
	msg, err := sip.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	inv := msg.(*sip.Request)
	inv.SetTransport("UDP")
	inv.SetDestination("127.0.0.1:16001")
	return inv
}

// TestWireMatchesRequests: the ACK and CANCEL written straight to bytes
// are exactly the messages ackNon2xx and CancelFor build, as sipgo
// serializes them.
func TestWireMatchesRequests(t *testing.T) {
	routes := []string{"", "Route: <sip:10.0.0.1;lr>\r\nRoute: <sip:10.0.0.2;lr>\r\n"}
	for _, rt := range routes {
		for _, status := range []int{404, 486, 487, 603} {
			inv := wireInvite(t, rt)
			res := sip.NewResponseFromRequest(inv, status, "No", nil)
			res.To().Params.Add("tag", "phone-tag")
			var buf bytes.Buffer
			writeAckNon2xx(&buf, inv, res)
			if want := ackNon2xx(inv, res).String(); buf.String() != want {
				t.Errorf("ACK of %d (routes %q):\n%q\nwant\n%q", status, rt, buf.String(), want)
			}
			if n := strings.Count(buf.String(), "Via:"); n != 1 {
				t.Errorf("ACK has %d Via, want 1", n)
			}
		}
		for _, reason := range []string{"", reasonElsewhere, reasonCaller} {
			inv := wireInvite(t, rt)
			var buf bytes.Buffer
			writeCancel(&buf, inv, reason)
			if want := CancelFor(inv, reason).String(); buf.String() != want {
				t.Errorf("CANCEL (reason %q, routes %q):\n%q\nwant\n%q", reason, rt, buf.String(), want)
			}
		}
	}
}

// TestTxKey: txKey makes sipgo's client transaction key, or fails where
// ClientTxKeyMake fails.
func TestTxKey(t *testing.T) {
	inv := wireInvite(t, "")
	ack := ackNon2xx(inv, sip.NewResponseFromRequest(inv, 487, "Request Terminated", nil))
	noCookie := wireInvite(t, "")
	noCookie.Via().Params.Add("branch", "1234")
	bare := wireInvite(t, "")
	bare.Via().Params.Add("branch", sip.RFC3261BranchMagicCookie)
	noVia := wireInvite(t, "")
	noVia.RemoveHeader("Via")
	noVia.RemoveHeader("Via")
	tests := []struct {
		name string
		msg  sip.Message
	}{
		{"invite", inv},
		{"ack counts as invite", ack},
		{"response", sip.NewResponseFromRequest(inv, 180, "Ringing", nil)},
		{"cancel", CancelFor(inv, "")},
		{"response to cancel", sip.NewResponseFromRequest(CancelFor(inv, ""), 200, "OK", nil)},
		{"branch without magic cookie", noCookie},
		{"magic cookie alone", bare},
		{"no via", noVia},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var kb keyBuf
			got, ok := txKey(kb[:0], tc.msg, "")
			want, err := sip.ClientTxKeyMake(tc.msg)
			if ok != (err == nil) || string(got) != want {
				t.Errorf("txKey = %q, %v; ClientTxKeyMake = %q, %v", got, ok, want, err)
			}
		})
	}
	// The CANCEL's key from its INVITE.
	var kb keyBuf
	got, _ := txKey(kb[:0], inv, sip.CANCEL)
	if want, _ := sip.ClientTxKeyMake(CancelFor(inv, "")); string(got) != want {
		t.Errorf("CANCEL key from the INVITE = %q, want %q", got, want)
	}
}

// TestHandleResponseNoAllocation: matching a response to our tables
// (a miss, and a CANCEL's provisional) allocates nothing.
func TestHandleResponseNoAllocation(t *testing.T) {
	e := New(Options{Log: quietLog()})
	inv := wireInvite(t, "")
	stray := sip.NewResponseFromRequest(inv, 487, "Request Terminated", nil)
	cancel := CancelFor(inv, "")
	ct := &cancelTx{tab: &e.cancels, key: "z9hG4bK-ours.1__CANCEL", inv: inv, log: e.log}
	if !e.cancels.add(ct) {
		t.Fatal("CANCEL not added")
	}
	trying := sip.NewResponseFromRequest(cancel, 100, "Trying", nil)
	tests := []struct {
		name string
		res  *sip.Response
		ours bool
	}{
		{"unknown final", stray, false},
		{"provisional to our CANCEL", trying, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := e.HandleResponse(tc.res); got != tc.ours {
				t.Fatalf("HandleResponse = %v, want %v", got, tc.ours)
			}
			if n := testing.AllocsPerRun(100, func() { e.HandleResponse(tc.res) }); n != 0 {
				t.Errorf("%v allocations per response, want 0", n)
			}
		})
	}
}
