package routing

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// lastConn is a UDP listener that sends nowhere: it serializes what it is
// given, as sipgo's does, and keeps the last response's status and the
// last response given as a message.
type lastConn struct {
	res    *sip.Response
	status int
}

func (*lastConn) LocalAddr() net.Addr { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }
func (c *lastConn) WriteMsg(m sip.Message) error {
	var b bytes.Buffer
	m.StringWrite(&b)
	if r, ok := m.(*sip.Response); ok {
		c.res, c.status = r, r.StatusCode
	}
	return nil
}

// WriteTo is how a recorded response goes out (retrans.go).
func (c *lastConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	if f := bytes.Fields(b); len(f) > 1 {
		c.status, _ = strconv.Atoi(string(f[1]))
	}
	return len(b), nil
}
func (*lastConn) Ref(int) int            { return 1 }
func (*lastConn) TryClose() (int, error) { return 1, nil }
func (*lastConn) Close() error           { return nil }

// sipgoHandle runs req through a real sipgo server transaction over UDP
// on conn (a server's listener: the same for every request), as sipgo's
// server does: the handler, then TerminateGracefully.
func sipgoHandle(tb testing.TB, s *Server, req *sip.Request, log *slog.Logger, conn *lastConn) *lastConn {
	key, err := sip.ServerTxKeyMake(req)
	if err != nil {
		tb.Fatal(err)
	}
	tx := sip.NewServerTx(key, req, conn, log)
	if err := tx.Init(); err != nil {
		tb.Fatal(err)
	}
	s.handle(req, tx)
	tx.TerminateGracefully()
	return conn
}

// BenchmarkRegisterStormTx registers through real sipgo server transactions
// (REGISTER, 401, REGISTER with credentials, 200), as a power cut's storm
// does, and reports what stays behind within the 5 s retransmission window:
// live server transactions and retained heap per registration.
func BenchmarkRegisterStormTx(b *testing.B) {
	setTransactionTimers()
	// One phone: its budget must not refuse it. The clock moves on a
	// microsecond per reading (as in BenchmarkRegisterDigest): on a frozen
	// one, once the nonce table evicts a nonce, every later one looks as
	// old as it and the credentials get a stale 401.
	var tick atomic.Int64
	s := testServer(b, func(o *Options) {
		o.Flood.Burst = 1 << 30
		base := o.Now()
		o.Now = func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Microsecond) }
	})
	pw, err := s.opts.Store.Credential("alice", "1001")
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cseq := 0
	conn := &lastConn{}
	b.ReportAllocs()
	for b.Loop() {
		cseq++
		c := sipgoHandle(b, s, parseRaw(b, benchRegister("1001", 2*cseq, "")), log, conn)
		if c.status != 401 {
			b.Fatalf("want 401, got %d", c.status)
		}
		c = sipgoHandle(b, s, parseRaw(b, benchRegister("1001", 2*cseq+1, registerCredentials(b, c.res, pw.Password))), log, conn)
		if c.status != 200 {
			b.Fatalf("want 200, got %d", c.status)
		}
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(s.liveTx.Load()), "live_tx")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(cseq), "heap_B/reg")
}

// benchInvite is an INVITE as a phone sends it to the proxy.
func benchInvite(i int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "INVITE sip:2000@test.example SIP/2.0\r\n")
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-inv-%d;rport\r\n", i)
	fmt.Fprintf(&b, "From: <sip:1001@test.example>;tag=inv%d\r\nTo: <sip:2000@test.example>\r\n", i)
	fmt.Fprintf(&b, "Call-ID: inv-%d@192.0.2.10\r\nCSeq: 2 INVITE\r\n", i)
	b.WriteString("Contact: <sip:1001@192.0.2.10:5062>\r\nMax-Forwards: 70\r\nUser-Agent: bench\r\n")
	b.WriteString("Content-Type: application/sdp\r\n")
	sdp := "v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n%s", len(sdp), sdp)
	return b.String()
}

// BenchmarkInviteAnsweredTx answers admitted INVITEs 2xx through real sipgo
// server transactions, as the proxy relays a callee's answer, and reports
// what stays behind: live server transactions and retained heap per call.
func BenchmarkInviteAnsweredTx(b *testing.B) {
	setTransactionTimers()
	s := testServer(b)
	log := slog.New(slog.DiscardHandler)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		req := parseRaw(b, benchInvite(n))
		key, err := sip.ServerTxKeyMake(req)
		if err != nil {
			b.Fatal(err)
		}
		stx := sip.NewServerTx(key, req, &lastConn{}, log)
		if err := stx.Init(); err != nil {
			b.Fatal(err)
		}
		s.track(stx)
		g := guardFor(s, req, stx)
		markAdmitted(g)
		res := sip.NewResponseFromRequest(req, 200, "OK", nil)
		res.AppendHeader(sip.NewHeader("Contact", "<sip:2001@192.0.2.20:5064>"))
		if err := g.Respond(res); err != nil {
			b.Fatal(err)
		}
		stx.TerminateGracefully()
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(s.liveTx.Load()), "live_tx")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "heap_B/call")
}

// guardFor is the handlers' transaction for req, as handle makes it.
func guardFor(s *Server, req *sip.Request, stx sip.ServerTransaction) *guardTx {
	g := newGuardTx(stx)
	g.keep(req, s.retrans, s.now)
	return g
}
