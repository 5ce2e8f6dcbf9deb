package routing_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/sipptest"
)

// seenDialog is what a party to a call saw of it: enough to forge
// in-dialog requests as that party.
type seenDialog struct {
	callID, fromTag, toTag string
	routes                 []string // Route set, in the order to send it
}

// dialogOf reads a dialog from the 200 to the INVITE a sipp caller got.
func dialogOf(t *testing.T, caller *sipptest.Process) seenDialog {
	t.Helper()
	for _, m := range caller.Received("SIP/2.0 200") {
		res, ok := parseSIP(t, m.Text).(*sip.Response)
		if !ok || res.CSeq() == nil || res.CSeq().MethodName != sip.INVITE {
			continue
		}
		d := seenDialog{callID: res.CallID().Value()}
		d.fromTag, _ = res.From().Params.Get("tag")
		d.toTag, _ = res.To().Params.Get("tag")
		for _, h := range res.GetHeaders("Record-Route") {
			d.routes = append(d.routes, h.Value())
		}
		slices.Reverse(d.routes) // the caller's route set (RFC 3261 §12.1.2)
		if len(d.routes) == 0 {
			t.Fatalf("200 without Record-Route: %s", m.Text)
		}
		return d
	}
	t.Fatalf("%s got no 200 to its INVITE", caller.Name)
	return seenDialog{}
}

func parseSIP(t *testing.T, text string) sip.Message {
	t.Helper()
	text = strings.ReplaceAll(strings.ReplaceAll(strings.TrimSpace(text), "\r\n", "\n"), "\n", "\r\n") + "\r\n\r\n"
	m, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	return m
}

// udpSink is a UDP socket on loopback that keeps every SIP request it gets
// (a trunk or a host that must stay unreached).
type udpSink struct {
	conn *net.UDPConn
	mu   sync.Mutex
	got  []*sip.Request
	done chan struct{}
}

func newUDPSink(t *testing.T, addr string) *udpSink {
	t.Helper()
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.ListenUDP("udp", ua)
	if err != nil {
		t.Fatal(err)
	}
	s := &udpSink{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 65535)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			if m, err := sip.ParseMessage(append([]byte(nil), buf[:n]...)); err == nil {
				if r, ok := m.(*sip.Request); ok {
					s.mu.Lock()
					s.got = append(s.got, r)
					s.mu.Unlock()
				}
			}
		}
	}()
	t.Cleanup(s.close)
	return s
}

func (s *udpSink) close() {
	s.conn.Close()
	<-s.done
}

// requests lists what arrived for a Call-ID.
func (s *udpSink) requests(callID string) []*sip.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*sip.Request
	for _, r := range s.got {
		if r.CallID() != nil && r.CallID().Value() == callID {
			out = append(out, r)
		}
	}
	return out
}

// forge sends, from a fresh loopback UDP socket, an in-dialog request of d
// with the given Request-URI and a forged CEO identity.
func forge(t *testing.T, server string, d seenDialog, method, ruri string, reverse bool, n int) {
	t.Helper()
	c, err := net.Dial("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	from, to := d.fromTag, d.toTag
	if reverse {
		from, to = to, from
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-forged-%d;rport\r\n", c.LocalAddr(), n)
	b.WriteString("Max-Forwards: 70\r\n")
	fmt.Fprintf(&b, "Route: %s\r\n", strings.Join(d.routes, ", "))
	fmt.Fprintf(&b, "From: <sip:1002@test.example>;tag=%s\r\n", from)
	fmt.Fprintf(&b, "To: <sip:+19005551212@test.example>;tag=%s\r\n", to)
	fmt.Fprintf(&b, "Call-ID: %s\r\n", d.callID)
	fmt.Fprintf(&b, "CSeq: %d %s\r\n", 100+n, method)
	b.WriteString("Contact: <sip:1002@127.0.0.1:5999>\r\n")
	b.WriteString("P-Asserted-Identity: \"Chief Executive\" <sip:+15550000001@test.example>\r\n")
	b.WriteString("Remote-Party-ID: \"Chief Executive\" <sip:+15550000001@test.example>;party=calling\r\n")
	b.WriteString("Content-Length: 0\r\n\r\n")
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatal(err)
	}
}

// TestSippDialogTokenReplay: a phone user who has seen our Record-Route
// token of a call cannot use it to relay: not to the trunk, not to any
// other host, not after a restart, not with the tags turned round; and in
// a call made with the trunk, its in-dialog requests reach the trunk
// without the identity it forged.
func TestSippDialogTokenReplay(t *testing.T) {
	trunkPort := sipptest.FreePorts(t, 1)
	h := newHarness(t, withTrunk(trunkPort))

	// An internal call: bob (the attacker) calls alice.
	phone := h.phone("alice-phone", "uas_answer.xml", "1001", "alice")
	internal := h.call("bob-caller", "uac_call.xml", "1002", "bob", "1001")
	wantExit(t, internal)
	wantExit(t, phone)
	inside := dialogOf(t, internal)

	// A call with the trunk: bob calls an outside number.
	trunk := sipptest.Start(t, sipptest.Options{Name: "trunk", Scenario: scenario("uas_answer.xml"),
		LocalIP: trunkIP, Port: trunkPort, Timeout: 15 * time.Second})
	outbound := h.call("bob-outbound", "uac_call.xml", "1002", "bob", "15559876543")
	wantExit(t, outbound)
	wantExit(t, trunk)
	outside := dialogOf(t, outbound)

	trunkSink := newUDPSink(t, fmt.Sprintf("%s:%d", trunkIP, trunkPort))
	other := newUDPSink(t, fmt.Sprintf("127.0.0.1:%d", sipptest.FreePorts(t, 1)))
	otherURI := "sip:+19005551212@" + other.conn.LocalAddr().String()
	trunkURI := fmt.Sprintf("sip:+19005551212@%s:%d", trunkIP, trunkPort)

	attack := func(round string) {
		n := 0
		next := func() int { n++; return n }
		forge(t, h.udp, inside, "INVITE", trunkURI, false, next())
		forge(t, h.udp, inside, "MESSAGE", trunkURI, false, next())
		forge(t, h.udp, inside, "INVITE", trunkURI, true, next())
		forge(t, h.udp, inside, "INVITE", otherURI, false, next())
		forge(t, h.udp, inside, "MESSAGE", otherURI, true, next())
		forge(t, h.udp, outside, "INVITE", otherURI, false, next())
		forge(t, h.udp, outside, "INVITE", trunkURI, false, next())
		time.Sleep(700 * time.Millisecond) // anything forwarded has arrived by now
		if got := trunkSink.requests(inside.callID); len(got) != 0 {
			t.Errorf("%s: the token of an internal call relayed %d requests to the trunk, first %s",
				round, len(got), got[0].StartLine())
		}
		if got := other.requests(inside.callID); len(got) != 0 {
			t.Errorf("%s: the token of an internal call relayed %d requests to another host, first %s",
				round, len(got), got[0].StartLine())
		}
		if got := other.requests(outside.callID); len(got) != 0 {
			t.Errorf("%s: the token of a trunk call relayed %d requests to another host, first %s",
				round, len(got), got[0].StartLine())
		}
		got := trunkSink.requests(outside.callID)
		if len(got) == 0 {
			t.Errorf("%s: the trunk call's own in-dialog INVITE did not reach the trunk", round)
		}
		for _, r := range got {
			for _, hdr := range []string{"P-Asserted-Identity", "Remote-Party-ID"} {
				if v := r.GetHeaders(hdr); len(v) != 0 {
					t.Errorf("%s: forged %s reached the trunk: %v", round, hdr, v)
				}
			}
		}
	}
	attack("before restart")
	h.restart()
	trunkSink.mu.Lock()
	trunkSink.got = nil
	trunkSink.mu.Unlock()
	attack("after restart")
}
