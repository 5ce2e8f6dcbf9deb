package routing_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo"
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

// tcpPhone is an in-process phone registered over one TCP connection, like
// a phone behind NAT or a firewall: its Contact names a port where a test
// listener only counts connections. Every request for it must come down
// its own connection.
type tcpPhone struct {
	t        *testing.T
	ext      string
	password string
	cli      *sipgo.Client
	dialogs  *sipgo.DialogUA
	contact  sip.Uri
	accepted atomic.Int32 // connections to the Contact: must stay 0
	mu       sync.Mutex
	got      []*sip.Request // requests received on the connection
}

func newTCPPhone(t *testing.T, h *harness, ext, user string) *tcpPhone {
	t.Helper()
	p := &tcpPhone{t: t, ext: ext, password: h.password(user)}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.accepted.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	p.contact = sip.Uri{Scheme: "sip", User: ext, Host: "127.0.0.1", Port: port,
		UriParams: params("transport", "tcp")}

	ua, err := sipgo.NewUA(sipgo.WithUserAgent("tcp-phone-" + ext))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ua.Close() })
	srv, err := sipgo.NewServer(ua)
	if err != nil {
		t.Fatal(err)
	}
	p.cli, err = sipgo.NewClient(ua, sipgo.WithClientHostname("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	p.dialogs = &sipgo.DialogUA{Client: p.cli, ContactHDR: sip.ContactHeader{Address: p.contact}}
	keep := func(req *sip.Request) {
		p.mu.Lock()
		p.got = append(p.got, req)
		p.mu.Unlock()
	}
	srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		keep(req)
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(&sip.ContactHeader{Address: p.contact})
		_ = tx.Respond(res)
	})
	srv.OnAck(func(req *sip.Request, _ sip.ServerTransaction) { keep(req) })
	srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		keep(req)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})

	// REGISTER over TCP, answering the challenge.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	aor := sip.Uri{Scheme: "sip", User: ext, Host: "test.example"}
	req := sip.NewRequest(sip.REGISTER, sip.Uri{Scheme: "sip", Host: "test.example"})
	req.AppendHeader(&sip.FromHeader{Address: aor, Params: params("tag", sip.GenerateTagN(8))})
	req.AppendHeader(&sip.ToHeader{Address: aor, Params: sip.NewParams()})
	req.AppendHeader(&sip.ContactHeader{Address: p.contact})
	req.AppendHeader(sip.NewHeader("Expires", "300"))
	req.SetTransport("TCP")
	req.SetDestination(h.tcp)
	res, err := p.cli.Do(ctx, req)
	if err == nil && res.StatusCode == 401 {
		res, err = p.cli.DoDigestAuth(ctx, req, res, sipgo.DigestAuth{Username: ext, Password: p.password})
	}
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("TCP phone %s: REGISTER: %v %v", ext, res, err)
	}
	return p
}

func params(k, v string) sip.HeaderParams {
	p := sip.NewParams()
	p.Add(k, v)
	return p
}

// received lists the requests of a method the phone got.
func (p *tcpPhone) received(m sip.RequestMethod) []*sip.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []*sip.Request
	for _, r := range p.got {
		if r.Method == m {
			out = append(out, r)
		}
	}
	return out
}

// call places a call to ext through the daemon on the phone's connection
// and ACKs the answer; the callee is expected to hang up.
func (p *tcpPhone) call(h *harness, ext string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	host, port, _ := net.SplitHostPort(h.tcp)
	target := sip.Uri{Scheme: "sip", User: ext, Host: host, UriParams: params("transport", "tcp")}
	target.Port, _ = strconv.Atoi(port)
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: p.ext, Host: "test.example"},
		Params: params("tag", sip.GenerateTagN(8))}
	sess, err := p.dialogs.Invite(ctx, target, nil, from, &sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: ext, Host: "test.example"}})
	if err != nil {
		p.t.Fatalf("INVITE: %v", err)
	}
	defer sess.Close()
	if err := sess.WaitAnswer(ctx, sipgo.AnswerOptions{Username: p.ext, Password: p.password}); err != nil {
		p.t.Fatalf("call %s: %v", ext, err)
	}
	if err := sess.Ack(ctx); err != nil {
		p.t.Fatalf("ACK: %v", err)
	}
}

// TestTCPPhoneFlow: a phone registered over TCP that cannot take new
// connections (NAT, firewall) gets every in-dialog request on its own
// connection: the caller's BYE when it is called, the callee's BYE when it
// called.
func TestTCPPhoneFlow(t *testing.T) {
	h := newHarness(t)
	alice := newTCPPhone(t, h, "1001", "alice")

	// Called: bob (UDP) calls alice and hangs up.
	caller := h.call("bob-caller", "uac_call.xml", "1002", "bob", "1001")
	wantExit(t, caller)
	if n := len(alice.received(sip.INVITE)); n != 1 {
		t.Fatalf("TCP phone got %d INVITEs, want 1", n)
	}
	waitFor(t, 3*time.Second, "the caller's BYE on the phone's connection", func() bool {
		return len(alice.received(sip.BYE)) == 1
	})

	// Calling: alice calls bob (UDP), who hangs up.
	bob := sipptest.Start(t, sipptest.Options{Name: "bob-phone", Scenario: scenario("uas_hangup.xml"),
		Pause: 300 * time.Millisecond, Timeout: 15 * time.Second})
	h.register("1002", h.password("bob"), bob.Port)
	alice.call(h, "1002")
	wantExit(t, bob)
	waitFor(t, 3*time.Second, "the callee's BYE on the phone's connection", func() bool {
		return len(alice.received(sip.BYE)) == 2
	})
	if n := alice.accepted.Load(); n != 0 {
		t.Errorf("%d connections were opened to the phone's Contact", n)
	}
}
