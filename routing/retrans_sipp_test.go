package routing_test

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// rawPhone is a phone on a UDP socket of its own that writes every byte it
// sends, so a test can retransmit a request exactly and compare answers.
type rawPhone struct {
	t         *testing.T
	h         *harness
	ext, user string
	conn      *net.UDPConn
	server    *net.UDPAddr
	seq       int
}

func newRawPhone(t *testing.T, h *harness, ext, user string) *rawPhone {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	srv, err := net.ResolveUDPAddr("udp", h.udp)
	if err != nil {
		t.Fatal(err)
	}
	return &rawPhone{t: t, h: h, ext: ext, user: user, conn: c, server: srv}
}

func (p *rawPhone) addr() string { return p.conn.LocalAddr().String() }

func (p *rawPhone) send(b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteToUDP(b, p.server); err != nil {
		p.t.Fatal(err)
	}
}

// recv returns the next message and its bytes, or nil after d.
func (p *rawPhone) recv(d time.Duration) ([]byte, sip.Message) {
	p.t.Helper()
	buf := make([]byte, 65535)
	if err := p.conn.SetReadDeadline(time.Now().Add(d)); err != nil {
		p.t.Fatal(err)
	}
	n, _, err := p.conn.ReadFromUDP(buf)
	if err != nil {
		return nil, nil
	}
	msg, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.t.Fatalf("%s received junk: %v\n%s", p.ext, err, buf[:n])
	}
	return buf[:n], msg
}

// final waits (at most 5 s) for the final response to cseq's method,
// skipping provisional ones and anything else.
func (p *rawPhone) final(method sip.RequestMethod) ([]byte, *sip.Response) {
	p.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, msg := p.recv(time.Until(deadline))
		if res, ok := msg.(*sip.Response); ok && res.StatusCode >= 200 && res.CSeq().MethodName == method {
			return b, res
		}
	}
	p.t.Fatalf("%s: no final response to %s", p.ext, method)
	return nil, nil
}

// request waits (at most d) for a request of method; nil if none came.
func (p *rawPhone) request(method sip.RequestMethod, d time.Duration) *sip.Request {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_, msg := p.recv(time.Until(deadline))
		if req, ok := msg.(*sip.Request); ok && req.Method == method {
			return req
		}
	}
	return nil
}

// quiet reports what came within d.
func (p *rawPhone) quiet(d time.Duration) []sip.Message {
	var got []sip.Message
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		_, msg := p.recv(time.Until(deadline))
		if msg != nil {
			got = append(got, msg)
		}
	}
	return got
}

// reply answers req from this phone.
func (p *rawPhone) reply(req *sip.Request, code int, reason, toTag string) {
	p.t.Helper()
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	if toTag != "" {
		res.To().Params.Add("tag", toTag)
	}
	if code >= 200 && code < 300 && req.IsInvite() {
		res.AppendHeader(sip.NewHeader("Contact", fmt.Sprintf("<sip:%s@%s>", p.ext, p.addr())))
	}
	p.send([]byte(res.String()))
}

// compose writes a request from this phone with a fresh branch; extra is
// more header lines, each ending in CRLF.
func (p *rawPhone) compose(method, ruri, to, callID string, cseq int, extra string) []byte {
	p.seq++
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, ruri)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s;branch=z9hG4bK-%s-%d-%d;rport\r\n", p.addr(), p.ext, p.seq, time.Now().UnixNano())
	fmt.Fprintf(&b, "Max-Forwards: 70\r\nFrom: <sip:%s@test.example>;tag=t%s\r\nTo: %s\r\n", p.ext, p.ext, to)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %d %s\r\n", callID, cseq, method)
	fmt.Fprintf(&b, "Contact: <sip:%s@%s>\r\n%sContent-Length: 0\r\n\r\n", p.ext, p.addr(), extra)
	return []byte(b.String())
}

// credentials answers res's challenge for method and uri.
func (p *rawPhone) credentials(res *sip.Response, method, uri string) string {
	p.t.Helper()
	name, authz := "WWW-Authenticate", "Authorization"
	if res.StatusCode == 407 {
		name, authz = "Proxy-Authenticate", "Proxy-Authorization"
	}
	ch, err := digest.ParseChallenge(res.GetHeader(name).Value())
	if err != nil {
		p.t.Fatal(err)
	}
	cred, err := digest.Digest(ch, digest.Options{Method: method, URI: uri, Username: p.ext,
		Password: p.h.password(p.user), Cnonce: "0a4f113b", Count: 1})
	if err != nil {
		p.t.Fatal(err)
	}
	return authz + ": " + cred.String() + "\r\n"
}

// register registers the phone and returns the authenticated REGISTER and
// the 200 it got, as bytes.
func (p *rawPhone) register() (req, ok []byte) {
	p.t.Helper()
	callID := "reg-" + p.ext + "@127.0.0.1"
	to := fmt.Sprintf("<sip:%s@test.example>", p.ext)
	p.send(p.compose("REGISTER", "sip:test.example", to, callID, 1, "Expires: 300\r\n"))
	_, ch := p.final(sip.REGISTER)
	if ch.StatusCode != 401 {
		p.t.Fatalf("REGISTER answered %d, want 401", ch.StatusCode)
	}
	req = p.compose("REGISTER", "sip:test.example", to, callID, 2,
		"Expires: 300\r\n"+p.credentials(ch, "REGISTER", "sip:test.example"))
	p.send(req)
	ok, res := p.final(sip.REGISTER)
	if res.StatusCode != 200 {
		p.t.Fatalf("authenticated REGISTER answered %d", res.StatusCode)
	}
	return req, ok
}

// logLines counts the server's log lines that have every one of parts.
func logLines(h *harness, parts ...string) int {
	n := 0
	for _, l := range strings.Split(h.logs.String(), "\n") {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			n++
		}
	}
	return n
}

func (h *harness) liveTransactions() int64 { return h.srv.Stats().Transactions }

// TestRetransmissionsAfterEarlyEnd: answered server transactions end at
// their final response (not 5 s or 32 s later), and retransmissions of
// their requests still get what RFC 3261 and RFC 6026 promise: the same
// 200 to a REGISTER (without the registrar running again) and to a BYE
// (not relayed again), nothing to an INVITE already answered 2xx (no
// second fork).
func TestRetransmissionsAfterEarlyEnd(t *testing.T) {
	h := newHarness(t)
	alice := newRawPhone(t, h, "1001", "alice")
	bob := newRawPhone(t, h, "1002", "bob")

	// REGISTER and its retransmission.
	regReq, regOK := bob.register()
	// sipgo would keep the transaction for Timer J (5 s).
	waitFor(t, time.Second, "no live transaction after the 200", func() bool { return h.liveTransactions() == 0 })
	if st := h.srv.Stats(); st.Records == 0 {
		t.Errorf("status counts %d retransmission records after an answered REGISTER, want its record", st.Records)
	}
	bob.send(regReq)
	again, res := bob.final(sip.REGISTER)
	if !bytes.Equal(again, regOK) {
		t.Fatalf("retransmitted REGISTER answered\n%s\nfirst answer\n%s", again, regOK)
	}
	if res.StatusCode != 200 {
		t.Fatalf("retransmission answered %d", res.StatusCode)
	}
	if n := logLines(h, "msg=registered", "user=bob"); n != 1 {
		t.Errorf("bob registered %d times in the log, want once", n)
	}
	if n := logLines(h, "msg=request", "method=REGISTER"); n != 2 {
		t.Errorf("the REGISTER handler ran %d times, want 2 (challenge, 200)", n)
	}

	// INVITE: challenge, authenticated INVITE, bob answers.
	callID := "call-retrans@127.0.0.1"
	to := "<sip:1002@test.example>"
	alice.send(alice.compose("INVITE", "sip:1002@test.example", to, callID, 1, ""))
	_, ch := alice.final(sip.INVITE)
	if ch.StatusCode != 407 {
		t.Fatalf("INVITE answered %d, want 407", ch.StatusCode)
	}
	invite := alice.compose("INVITE", "sip:1002@test.example", to, callID, 2,
		alice.credentials(ch, "INVITE", "sip:1002@test.example"))
	alice.send(invite)
	in := bob.request(sip.INVITE, 5*time.Second)
	if in == nil {
		t.Fatal("bob's phone got no INVITE")
	}
	bob.reply(in, 180, "Ringing", "bobtag")
	bob.reply(in, 200, "OK", "bobtag")
	_, ok := alice.final(sip.INVITE)
	if ok.StatusCode != 200 {
		t.Fatalf("call answered %d", ok.StatusCode)
	}
	// sipgo would keep it in Accepted for Timer L (32 s).
	waitFor(t, time.Second, "no live transaction after the 2xx", func() bool { return h.liveTransactions() == 0 })
	alice.send(invite) // the 2xx "was lost"
	if got := bob.quiet(time.Second); len(got) != 0 {
		t.Errorf("a retransmitted INVITE after the 2xx reached the callee again: %v", got)
	}
	if n := logLines(h, "msg=request", "method=INVITE"); n != 2 {
		t.Errorf("the INVITE handler ran %d times, want 2 (challenge, call)", n)
	}
	// A CANCEL after the 2xx gets the 200 the INVITE's transaction gave it.
	// (Not within microseconds of a retransmitted INVITE: sipgo can match
	// the CANCEL to the retransmission's transaction while it is being
	// ended, and answer 487 from it; docs/decisions.md.)
	cancel := bytes.Replace(invite[:bytes.Index(invite, []byte("Proxy-Authorization"))], []byte("INVITE"), []byte("CANCEL"), -1)
	cancel = append(cancel, "Content-Length: 0\r\n\r\n"...)
	alice.send(cancel)
	if _, res := alice.final(sip.CANCEL); res.StatusCode != 200 {
		t.Errorf("late CANCEL answered %d", res.StatusCode)
	}
	if got := alice.quiet(200 * time.Millisecond); len(got) != 0 {
		t.Errorf("after the late CANCEL the caller got %v", got)
	}

	// ACK and BYE along the Record-Route.
	route := ""
	for _, rr := range ok.GetHeaders("Record-Route") {
		route += "Route: " + rr.Value() + "\r\n"
	}
	contact := ok.Contact().Address.String()
	toTagged := ok.To().Value()
	ack := alice.compose("ACK", contact, toTagged, callID, 2, route)
	alice.send(ack)
	if bob.request(sip.ACK, 5*time.Second) == nil {
		t.Fatal("bob's phone got no ACK")
	}
	bye := alice.compose("BYE", contact, toTagged, callID, 3, route)
	alice.send(bye)
	byeIn := bob.request(sip.BYE, 5*time.Second)
	if byeIn == nil {
		t.Fatal("bob's phone got no BYE")
	}
	bob.reply(byeIn, 200, "OK", "")
	byeOK, res := alice.final(sip.BYE)
	if res.StatusCode != 200 {
		t.Fatalf("BYE answered %d", res.StatusCode)
	}
	waitFor(t, time.Second, "no live transaction after the BYE's 200", func() bool { return h.liveTransactions() == 0 })
	alice.send(bye)
	byeAgain, _ := alice.final(sip.BYE)
	if !bytes.Equal(byeAgain, byeOK) {
		t.Errorf("retransmitted BYE answered\n%s\nfirst answer\n%s", byeAgain, byeOK)
	}
	if got := bob.quiet(500 * time.Millisecond); len(got) != 0 {
		t.Errorf("the retransmitted BYE was relayed again: %v", got)
	}

	// A call refused: the transaction retransmits the 486 until the ACK,
	// then ends; a retransmitted ACK is absorbed.
	callID = "call-refused@127.0.0.1"
	alice.send(alice.compose("INVITE", "sip:1002@test.example", to, callID, 1, ""))
	if _, ch = alice.final(sip.INVITE); ch.StatusCode != 407 {
		t.Fatalf("second INVITE answered\n%v", ch)
	}
	invite = alice.compose("INVITE", "sip:1002@test.example", to, callID, 2,
		alice.credentials(ch, "INVITE", "sip:1002@test.example"))
	alice.send(invite)
	if in = bob.request(sip.INVITE, 5*time.Second); in == nil {
		t.Fatal("bob's phone got no second INVITE")
	}
	bob.reply(in, 486, "Busy Here", "bobtag2")
	if ack := bob.request(sip.ACK, 5*time.Second); ack == nil {
		t.Fatal("the proxy did not ACK the 486")
	}
	_, busy := alice.final(sip.INVITE)
	if busy.StatusCode != 486 {
		t.Fatalf("call answered %d, want 486", busy.StatusCode)
	}
	if n := h.liveTransactions(); n != 1 {
		t.Errorf("%d live transactions before the ACK, want the INVITE's", n)
	}
	// The ACK of a non-2xx: the INVITE's branch, the final's To tag.
	ackText := string(invite[:bytes.Index(invite, []byte("Proxy-Authorization"))])
	ackText = strings.Replace(ackText, "INVITE sip:", "ACK sip:", 1)
	ackText = strings.Replace(ackText, "CSeq: 2 INVITE", "CSeq: 2 ACK", 1)
	ackText = strings.Replace(ackText, "To: "+to, "To: "+busy.To().Value(), 1)
	ackText += "Content-Length: 0\r\n\r\n"
	alice.send([]byte(ackText))
	waitFor(t, time.Second, "no live transaction after the ACK", func() bool { return h.liveTransactions() == 0 })
	acksBefore := logLines(h, "msg=request", "method=ACK")
	alice.send([]byte(ackText))
	alice.send(invite)
	if got := alice.quiet(500 * time.Millisecond); len(got) != 0 {
		t.Errorf("the caller got %v after its ACK", got)
	}
	if got := bob.quiet(100 * time.Millisecond); len(got) != 0 {
		t.Errorf("the callee got %v after the ACK", got)
	}
	if n := logLines(h, "msg=request", "method=ACK"); n != acksBefore {
		t.Errorf("a retransmitted ACK reached the handlers")
	}
}
