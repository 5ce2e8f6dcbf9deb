package routing

import (
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// preFilterRig is a server whose UDP listener is a real loopback socket
// the pre-filter answers through, and a phone socket that reads what it
// sends. The read filter is called directly, as sipgo's UDP reader calls
// it.
type preFilterRig struct {
	s      *Server
	listen net.PacketConn
	phone  net.PacketConn
	buf    []byte // the phone's read buffer
}

func newPreFilterRig(t testing.TB, mutate ...func(*Options)) *preFilterRig {
	t.Helper()
	s := testServer(t, mutate...)
	r := &preFilterRig{s: s}
	for _, pc := range []*net.PacketConn{&r.listen, &r.phone} {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		*pc = c
	}
	s.udp = []*udpSocket{{laddr: r.listen.LocalAddr(), pc: r.listen}}
	return r
}

func (r *preFilterRig) props(transport string) sip.TransportReadProps {
	return sip.TransportReadProps{Transport: transport, LocalAddr: r.listen.LocalAddr(), RemoteAddr: r.phone.LocalAddr()}
}

// read returns the next datagram the phone got, "" after wait.
func (r *preFilterRig) read(t testing.TB, wait time.Duration) string {
	t.Helper()
	if r.buf == nil {
		r.buf = make([]byte, 65536)
	}
	_ = r.phone.SetReadDeadline(time.Now().Add(wait))
	n, _, err := r.phone.ReadFrom(r.buf)
	if err != nil {
		return ""
	}
	return string(r.buf[:n])
}

func wire(text string) []byte {
	return []byte(strings.ReplaceAll(strings.TrimLeft(text, "\n"), "\n", "\r\n"))
}

func parseRes(t testing.TB, b string) *sip.Response {
	t.Helper()
	m, err := sip.ParseMessage([]byte(b))
	if err != nil {
		t.Fatalf("parse %q: %v", b, err)
	}
	res, ok := m.(*sip.Response)
	if !ok {
		t.Fatalf("not a response: %q", b)
	}
	return res
}

// TestPreFilterPassesOn: what the pre-filter does not take reaches sipgo
// unchanged, and nothing is sent for it.
func TestPreFilterPassesOn(t *testing.T) {
	r := newPreFilterRig(t)
	other, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tests := []struct {
		name  string
		props sip.TransportReadProps
		data  []byte
	}{
		{"INVITE", r.props("UDP"), wire(inviteText)},
		{"REGISTER over TCP", r.props("TCP"), wire(registerText)},
		{"REGISTER on a socket sipgo opened", sip.TransportReadProps{Transport: "UDP",
			LocalAddr: other.LocalAddr(), RemoteAddr: r.phone.LocalAddr()}, wire(registerText)},
		{"unparsable", r.props("UDP"), []byte("REGISTER sip:test.example SIP/2.0\r\nVia\r\n\r\n")},
		{"not a request line", r.props("UDP"), []byte("REGISTER \r\n\r\n")},
		{"keep-alive", r.props("UDP"), []byte("\r\n\r\n")},
		{"response", r.props("UDP"), wire("SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK-x\nCSeq: 1 REGISTER\n" +
			"Call-ID: x\nFrom: <sip:a@b>;tag=1\nTo: <sip:a@b>\nContent-Length: 0\n\n")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]byte(nil), tc.data...)
			out, err := r.s.readFilter(tc.props, in)
			if err != nil || string(out) != string(tc.data) {
				t.Errorf("readFilter = %q, %v; want the datagram unchanged", out, err)
			}
			if got := r.read(t, 50*time.Millisecond); got != "" {
				t.Errorf("sent %q", got)
			}
		})
	}
}

// TestPreFilterRegisters: a phone's registration over UDP goes through the
// pre-filter end to end: the challenge, the authenticated REGISTER's 200,
// and a retransmission answered with the same 200 from its record. No
// sipgo transaction is involved and none is counted live.
func TestPreFilterRegisters(t *testing.T) {
	r := newPreFilterRig(t)
	props := r.props("UDP")
	first := reqText("REGISTER", "sip:test.example", "<sip:1001@test.example>", "Expires: 300\n")
	if out, err := r.s.readFilter(props, wire(first)); out != nil || err != nil {
		t.Fatalf("readFilter = %q, %v; want the REGISTER taken", out, err)
	}
	got := r.read(t, 2*time.Second)
	if !strings.HasPrefix(got, "SIP/2.0 401 ") {
		t.Fatalf("answered %q; want 401", got)
	}
	ch := parseRes(t, got)
	if ch.GetHeader("WWW-Authenticate") == nil || ch.CallID().Value() != parseReq(t, first).CallID().Value() {
		t.Fatalf("challenge %q", got)
	}
	c, err := r.s.opts.Store.Credential("alice", "1001")
	if err != nil {
		t.Fatal(err)
	}
	authed := wire(reqText("REGISTER", "sip:test.example", "<sip:1001@test.example>",
		"Expires: 300\nAuthorization: "+registerCredentials(t, ch, c.Password)+"\n"))
	if out, _ := r.s.readFilter(props, append([]byte(nil), authed...)); out != nil {
		t.Fatalf("authenticated REGISTER passed on")
	}
	ok := r.read(t, 2*time.Second)
	if !strings.HasPrefix(ok, "SIP/2.0 200 ") || !strings.Contains(ok, "Contact: <sip:1001@192.0.2.10:5062>") {
		t.Fatalf("answered %q; want 200 with the binding", ok)
	}
	if bs := r.s.bindings.Get("alice", r.s.now()); len(bs) != 1 || bs[0].Source != r.phone.LocalAddr().String() {
		t.Errorf("bindings %+v; want one, from %s", bs, r.phone.LocalAddr())
	}
	// The retransmission: the same bytes again, answered from the record.
	if out, _ := r.s.readFilter(props, append([]byte(nil), authed...)); out != nil {
		t.Fatalf("retransmission passed on")
	}
	if again := r.read(t, 2*time.Second); again != ok {
		t.Errorf("retransmission answered\n%q\nwant the first 200\n%q", again, ok)
	}
	if st := r.s.retrans.finals.stats(r.s.now()); st.Records != 1 || st.Hits != 1 {
		t.Errorf("finals %+v; want one record, hit once", st)
	}
	if n := r.s.liveTx.Load(); n != 0 {
		t.Errorf("%d live transactions", n)
	}
}

// TestPreFilterRefusesStatelessly: a REGISTER the chain refuses is refused
// by the pre-filter as by sipgo's path, to the source address whatever its
// Via says. (Budgets spare loopback sources; flood_test covers them on the
// shared chain.)
func TestPreFilterRefusesStatelessly(t *testing.T) {
	r := newPreFilterRig(t)
	props := r.props("UDP")
	tests := []struct {
		name, text, want string
	}{
		{"foreign domain", reqText("REGISTER", "sip:elsewhere.example", "<sip:1001@elsewhere.example>", ""),
			"SIP/2.0 404 "},
		{"no hops left", strings.Replace(reqText("REGISTER", "sip:test.example", "<sip:1001@test.example>", ""),
			"Max-Forwards: 70", "Max-Forwards: 0", 1), "SIP/2.0 483 "},
		{"CSeq of another method", strings.Replace(reqText("REGISTER", "sip:test.example", "<sip:1001@test.example>", ""),
			"CSeq: 1 REGISTER", "CSeq: 1 INVITE", 1), "SIP/2.0 400 "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Via names another host: the answer still goes to the source.
			text := strings.Replace(tc.text, "192.0.2.10:5062", "192.0.2.99:5099", 1)
			if out, _ := r.s.readFilter(props, wire(text)); out != nil {
				t.Fatal("passed on")
			}
			if got := r.read(t, 2*time.Second); !strings.HasPrefix(got, tc.want) {
				t.Errorf("answered %q; want %q", got, tc.want)
			}
		})
	}
}

// FuzzPreFilter feeds arbitrary datagrams through the UDP read filter. A
// panic in the handlers is recovered by handle and logged: the fuzzer
// fails on that log line; one in the filter itself fails the run.
func FuzzPreFilter(f *testing.F) {
	for _, b := range readCorpus(f) {
		f.Add(b)
	}
	f.Add(wire(registerText))
	f.Add([]byte("REGISTER sip:test.example SIP/2.0\r\nVia: SIP/2.0/UDP x\r\n\r\n"))
	logs := &syncBuffer{}
	r := newPreFilterRig(f, func(o *Options) {
		o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
		o.Flood = FloodOptions{Burst: 1 << 30}
	})
	props := r.props("UDP")
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !strings.HasPrefix(string(raw), "REGISTER ") {
			raw = append([]byte("REGISTER "), raw...)
		}
		in := append([]byte(nil), raw...)
		out, err := r.s.readFilter(props, in)
		if err != nil || (out != nil && string(out) != string(raw)) {
			t.Fatalf("readFilter(%q) = %q, %v", raw, out, err)
		}
		if l := logs.String(); strings.Contains(l, "panic") {
			t.Fatalf("handler panicked on %q:\n%s", raw, l)
		}
	})
}

// BenchmarkPreFilterRegister is one registration as a phone makes it over
// UDP, through the read filter as sipgo's reader calls it: REGISTER, 401,
// REGISTER with credentials, 200, over loopback sockets. filter-ns/op is
// the time inside the read filter (parse, handle, send); the rest is the
// phone's side.
func BenchmarkPreFilterRegister(b *testing.B) {
	var tick atomic.Int64
	r := newPreFilterRig(b, func(o *Options) {
		o.Flood.Rate, o.Flood.Burst = 1e9, 1<<30
		base := o.Now()
		o.Now = func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Microsecond) }
	})
	pw, err := r.s.opts.Store.Credential("alice", "1001")
	if err != nil {
		b.Fatal(err)
	}
	props := r.props("UDP")
	var inFilter time.Duration
	cseq := 0
	b.ReportAllocs()
	for b.Loop() {
		cseq++
		t0 := time.Now()
		r.s.readFilter(props, []byte(benchRegister("1001", 2*cseq, "")))
		inFilter += time.Since(t0)
		ch := parseRes(b, r.read(b, time.Second))
		if ch.StatusCode != 401 {
			b.Fatalf("want 401, got %v", ch.StartLine())
		}
		data := []byte(benchRegister("1001", 2*cseq+1, registerCredentials(b, ch, pw.Password)))
		t0 = time.Now()
		r.s.readFilter(props, data)
		inFilter += time.Since(t0)
		if ok := parseRes(b, r.read(b, time.Second)); ok.StatusCode != 200 {
			b.Fatalf("want 200, got %v", ok.StartLine())
		}
	}
	b.ReportMetric(float64(inFilter.Nanoseconds())/float64(b.N), "filter-ns/op")
}
