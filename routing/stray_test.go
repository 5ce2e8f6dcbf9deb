package routing_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestStrayResponsesDropped: responses that match no transaction and no
// record of the fork are dropped (RFC 6026 forbids forwarding stray
// responses), without a warning per message: a retransmitted 200 to a
// CANCEL whose transaction ended at its first 200, and a 2xx to an INVITE
// we know nothing of, both carrying our Via on top and a live next hop
// below it that must receive nothing.
func TestStrayResponsesDropped(t *testing.T) {
	h := newHarness(t)
	hop, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hop.Close()
	phone, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer phone.Close()
	server, err := net.ResolveUDPAddr("udp", h.udp)
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	for i := range rounds {
		for _, method := range []string{"CANCEL", "INVITE"} {
			res := strings.ReplaceAll(fmt.Sprintf(`SIP/2.0 200 OK
Via: SIP/2.0/UDP %s;branch=z9hG4bK-stray-%d
Via: SIP/2.0/UDP %s;branch=z9hG4bK-caller-%d;rport
From: <sip:1001@test.example>;tag=a%d
To: <sip:1002@test.example>;tag=b%d
Call-ID: stray-%d@127.0.0.1
CSeq: 1 %s
Contact: <sip:1002@%s>
Content-Length: 0

`, h.udp, i, hop.LocalAddr(), i, i, i, i, method, phone.LocalAddr()), "\n", "\r\n")
			if _, err := phone.WriteTo([]byte(res), server); err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = hop.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	buf := make([]byte, 65535)
	if n, _, err := hop.ReadFrom(buf); err == nil {
		t.Fatalf("a stray response was forwarded:\n%s", buf[:n])
	}
	waitFor(t, 5*time.Second, "the strays to be handled", func() bool {
		return strings.Count(h.logs.String(), "stray response dropped") == 2*rounds
	})
	logs := h.logs.String()
	for _, level := range []string{"level=WARN", "level=ERROR"} {
		if n := strings.Count(logs, level); n != 0 {
			t.Errorf("%d %s lines for %d stray responses, want none:\n%s", n, level, 2*rounds, logs)
		}
	}
}
