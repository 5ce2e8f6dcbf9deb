package discovery

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// startService runs a Service until the test ends and returns it once it is
// ready.
func startService(t *testing.T, opts Options) *Service {
	t.Helper()
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Run did not return within 10s of cancel")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Service not ready within 5s")
	}
	return s
}

// loopbackPnP starts a PnP-only Service on 127.0.0.1 (a unicast PnPAddr
// skips the multicast join) with the test office.
func loopbackPnP(t *testing.T) (*Service, *store.DB) {
	t.Helper()
	db := testStore(t)
	snap := testSnapshot(t)
	s := startService(t, Options{PnP: true, PnPAddr: "127.0.0.1:0", Store: db,
		Directory: func() *directory.Snapshot { return snap }, ProvisioningURL: "http://0.0.0.0:8080/"})
	return s, db
}

// fakePhone is a PnP client on a loopback socket.
type fakePhone struct {
	t    *testing.T
	conn *net.UDPConn
}

func newFakePhone(t *testing.T) *fakePhone {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &fakePhone{t: t, conn: c}
}

func (p *fakePhone) addr() string { return p.conn.LocalAddr().String() }

func (p *fakePhone) send(to net.Addr, b []byte) {
	p.t.Helper()
	if _, err := p.conn.WriteTo(b, to); err != nil {
		p.t.Fatalf("phone send: %v", err)
	}
}

// recv returns the next SIP message within d, or nil.
func (p *fakePhone) recv(d time.Duration) (sip.Message, *net.UDPAddr) {
	p.t.Helper()
	buf := make([]byte, 65536)
	_ = p.conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := p.conn.ReadFromUDP(buf)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, nil
	}
	if err != nil {
		p.t.Fatalf("phone recv: %v", err)
	}
	msg, err := sip.ParseMessage(buf[:n])
	if err != nil {
		p.t.Fatalf("phone got unparsable datagram: %v\n%s", err, buf[:n])
	}
	return msg, from
}

// receive is recv that fails the test on silence.
func receive(t *testing.T, p *fakePhone, d time.Duration) sip.Message {
	t.Helper()
	msg, _ := p.recv(d)
	if msg == nil {
		t.Fatalf("nothing received within %v", d)
	}
	return msg
}

func inventoryOf(t *testing.T, db *store.DB, mac string) (store.InventoryPhone, bool) {
	t.Helper()
	ph, ok, err := db.LookupPhone(mac)
	if err != nil {
		t.Fatal(err)
	}
	return ph, ok
}

func TestPnPLoopbackDirectoryPhone(t *testing.T) {
	s, db := loopbackPnP(t)
	phone := newFakePhone(t)
	sub := snomSubscribe(macYealink, "Yealink", "SIP-T54W", phone.addr())
	phone.send(s.PnPAddr(), sub.bytes())

	msg, _ := phone.recv(5 * time.Second)
	res, ok := msg.(*sip.Response)
	if !ok || res.StatusCode != 200 {
		t.Fatalf("want 200 OK first, got %v", msg)
	}
	tag, _ := res.To().Params.Get("tag")

	msg, from := phone.recv(5 * time.Second)
	notify, ok := msg.(*sip.Request)
	if !ok || notify.Method != sip.NOTIFY {
		t.Fatalf("want NOTIFY, got %v", msg)
	}
	if got := string(notify.Body()); got != "http://127.0.0.1:8080/" {
		t.Errorf("NOTIFY body = %q, want the URL with the local address", got)
	}
	if ft, _ := notify.From().Params.Get("tag"); ft != tag {
		t.Errorf("NOTIFY From tag %q != 200 OK To tag %q", ft, tag)
	}
	// A retransmitted SUBSCRIBE gets the same 200 OK again, and the
	// unanswered NOTIFY is retransmitted (T1 = 500ms), in either order.
	phone.send(s.PnPAddr(), sub.bytes())
	var gotOK, gotNotify bool
	for range 2 {
		switch m := receive(t, phone, 3*time.Second).(type) {
		case *sip.Response:
			gotOK = m.StatusCode == 200 && m.To().Params.GetOr("tag", "") == tag
		case *sip.Request:
			gotNotify = m.Method == sip.NOTIFY && m.CallID().Value() == notify.CallID().Value()
		}
	}
	if !gotOK || !gotNotify {
		t.Fatalf("after the retransmission: same 200 OK %v, NOTIFY retransmitted %v", gotOK, gotNotify)
	}
	phone.send(from, []byte(sip.NewResponseFromRequest(notify, 200, "OK", nil).String()))
	if msg, _ := phone.recv(1500 * time.Millisecond); msg != nil {
		t.Fatalf("after answering the NOTIFY: unexpected %v", msg)
	}

	ph, ok := inventoryOf(t, db, macYealink)
	if !ok || ph.Source != "pnp" || ph.Vendor != "yealink" || ph.Model != "yealink-t54w" || ph.Address != "127.0.0.1" {
		t.Fatalf("inventory = %+v, %v", ph, ok)
	}
}

func TestPnPLoopbackUnknownPhoneNotAnswered(t *testing.T) {
	s, db := loopbackPnP(t)
	phone := newFakePhone(t)
	phone.send(s.PnPAddr(), snomSubscribe(macUnknown, "Yealink", "SIP-T46U", phone.addr()).bytes())
	if msg, _ := phone.recv(1500 * time.Millisecond); msg != nil {
		t.Fatalf("unknown MAC answered: %v", msg)
	}
	waitFor(t, 5*time.Second, func() bool {
		ph, ok := inventoryOf(t, db, macUnknown)
		return ok && ph.Source == "pnp" && ph.Model == "yealink-t46u"
	})
}

func TestPnPLoopbackRateLimit(t *testing.T) {
	s, db := loopbackPnP(t)
	phone := newFakePhone(t)
	for range pnpBurst {
		phone.send(s.PnPAddr(), []byte("OPTIONS sip:x SIP/2.0\r\n\r\n"))
	}
	phone.send(s.PnPAddr(), snomSubscribe(macSnom, "OEM", "OEM", phone.addr()).bytes())
	if msg, _ := phone.recv(1500 * time.Millisecond); msg != nil {
		t.Fatalf("request over the limit answered: %v", msg)
	}
	if _, ok := inventoryOf(t, db, macSnom); ok {
		t.Fatal("request over the limit recorded")
	}
}

// waitFor polls cond every 20ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
