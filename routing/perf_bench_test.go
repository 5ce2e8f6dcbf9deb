package routing

import (
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
)

// captureTx is a server transaction that keeps the last response: enough
// to drive handlers without sockets.
type captureTx struct {
	res  *sip.Response
	done chan struct{}
}

func newCaptureTx() *captureTx { return &captureTx{done: make(chan struct{})} }

func (t *captureTx) Respond(res *sip.Response) error    { t.res = res; return nil }
func (t *captureTx) Acks() <-chan *sip.Request          { return nil }
func (t *captureTx) OnCancel(sip.FnTxCancel) bool       { return true }
func (t *captureTx) Terminate()                         {}
func (t *captureTx) OnTerminate(sip.FnTxTerminate) bool { return true }
func (t *captureTx) Done() <-chan struct{}              { return t.done }
func (t *captureTx) Err() error                         { return nil }

// benchRegister is a phone's REGISTER as sipp's reg.xml sends it.
func benchRegister(ext string, cseq int, auth string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "REGISTER sip:test.example SIP/2.0\r\n")
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-%s-%d;rport\r\n", ext, cseq)
	fmt.Fprintf(&b, "From: <sip:%s@test.example>;tag=reg%s\r\n", ext, ext)
	fmt.Fprintf(&b, "To: <sip:%s@test.example>\r\n", ext)
	fmt.Fprintf(&b, "Call-ID: reg-%s@192.0.2.10\r\n", ext)
	fmt.Fprintf(&b, "CSeq: %d REGISTER\r\n", cseq)
	fmt.Fprintf(&b, "Contact: <sip:%s@192.0.2.10:5062>\r\n", ext)
	b.WriteString("Max-Forwards: 70\r\nExpires: 3600\r\nUser-Agent: bench\r\n")
	if auth != "" {
		fmt.Fprintf(&b, "Authorization: %s\r\n", auth)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return b.String()
}

func parseRaw(tb testing.TB, text string) *sip.Request {
	msg, err := sip.ParseMessage([]byte(text))
	if err != nil {
		tb.Fatalf("parse: %v", err)
	}
	req := msg.(*sip.Request)
	req.SetSource("192.0.2.10:5062")
	req.SetTransport("UDP")
	return req
}

// BenchmarkRegisterDigest is one registration as a phone makes it: REGISTER,
// 401 challenge, REGISTER with credentials, 200 (parsing both requests);
// handler-ns/op is the time spent in the server's handler alone (the rest
// is the phone's side: building and parsing the requests, the digest).
func BenchmarkRegisterDigest(b *testing.B) {
	// One source sends every request: its budget must not run out, and
	// captureTx never terminates, so the transaction cap must not be
	// reached either (the bench measures the registration). The clock
	// moves on a microsecond per reading: on a frozen one every nonce has
	// the same issue time, and once the nonce table evicts one, all later
	// ones look as old as it (stale).
	var tick atomic.Int64
	s := testServer(b, func(o *Options) {
		o.Flood.Rate, o.Flood.Burst, o.Flood.MaxTransactions = 1e9, 1<<30, 1<<30
		base := o.Now()
		o.Now = func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Microsecond) }
	})
	pw, err := s.opts.Store.Credential("alice", "1001")
	if err != nil {
		b.Fatal(err)
	}
	cseq := 0
	var inHandler time.Duration // the server's share: both requests' handling
	b.ReportAllocs()
	for b.Loop() {
		cseq++
		tx := newCaptureTx()
		req := parseRaw(b, benchRegister("1001", 2*cseq, ""))
		t0 := time.Now()
		s.handle(req, tx)
		inHandler += time.Since(t0)
		if tx.res == nil || tx.res.StatusCode != 401 {
			b.Fatalf("want 401, got %v", tx.res)
		}
		cred := registerCredentials(b, tx.res, pw.Password)
		tx = newCaptureTx()
		req = parseRaw(b, benchRegister("1001", 2*cseq+1, cred))
		t0 = time.Now()
		s.handle(req, tx)
		inHandler += time.Since(t0)
		if tx.res == nil || tx.res.StatusCode != 200 {
			b.Fatalf("want 200, got %v", tx.res)
		}
	}
	b.ReportMetric(float64(inHandler.Nanoseconds())/float64(b.N), "handler-ns/op")
}

// BenchmarkBindings10000 holds 10,000 registrations (one contact each, as
// phones register them) in the registrar's table and reports the heap they
// take (MB); the store's write-behind queue is flushed first so only the
// table counts. BenchmarkTableHeap10000 (routing/registrar) measures the
// table alone, with bindings made from parsed REGISTERs.
func BenchmarkBindings10000(b *testing.B) {
	const n = 10000
	var heapMB float64
	for b.Loop() {
		s := testServer(b)
		now := s.now()
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range n {
			user := fmt.Sprintf("user%05d", i)
			port := 10000 + i%50000
			if _, err := s.bindings.Update(user, []store.Binding{{User: user,
				Contact:    fmt.Sprintf("sip:%d@192.0.2.%d:%d;transport=udp", 100000+i, i%250+1, port),
				Source:     fmt.Sprintf("192.0.2.%d:%d", i%250+1, port),
				Transport:  "UDP",
				CallID:     fmt.Sprintf("%08x-%04x-reg@192.0.2.%d", i, i, i%250+1),
				CSeq:       1,
				InstanceID: fmt.Sprintf("<urn:uuid:00000000-0000-1000-8000-%012x>", i),
				UserAgent:  "Yealink SIP-T46U 108.86.0.20",
				Expires:    now.Add(time.Hour), Updated: now}}, now); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.opts.Store.Flush(); err != nil {
			b.Fatal(err)
		}
		// Twice: the pages bbolt wrote the flush from wait in a sync.Pool
		// (4 KB each, about 8 MB here), which only a second GC empties.
		runtime.GC()
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		heapMB = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / (1 << 20)
		runtime.KeepAlive(s)
	}
	b.ReportMetric(heapMB, "MB/10k-bindings")
}
