package fork

import (
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// departmentPhone is a raw UDP phone of a department: it rings at once and
// answers after answer (0 = never: it waits for our CANCEL and then sends
// 200 and 487). It keeps no state past the INVITE it is ringing for, so a
// heap measurement sees the proxy's memory, not the phones'.
func departmentPhone(t testing.TB, answer time.Duration, observe func(*sip.Request)) *scripted {
	var mu sync.Mutex
	ringing := map[string]*sip.Request{} // by top Via branch
	s := newScriptedQuiet(t, func(s *scripted, req *sip.Request, from net.Addr) {
		if observe != nil {
			observe(req) // every request the phone gets, before it answers
		}
		branch, _ := req.Via().Params.Get("branch")
		switch req.Method {
		case sip.INVITE:
			inv := tagged(req)
			s.send(from, sip.NewResponseFromRequest(inv, 180, "Ringing", nil))
			if answer > 0 {
				time.AfterFunc(answer, func() {
					ok := sip.NewResponseFromRequest(inv, 200, "OK", nil)
					ok.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "p", Host: "127.0.0.1"}})
					s.send(from, ok)
				})
				return
			}
			mu.Lock()
			ringing[branch] = inv
			mu.Unlock()
		case sip.CANCEL:
			mu.Lock()
			inv := ringing[branch]
			delete(ringing, branch)
			mu.Unlock()
			s.send(from, sip.NewResponseFromRequest(req, 200, "OK", nil))
			if inv != nil {
				s.send(from, sip.NewResponseFromRequest(inv, 487, "Request Terminated", nil))
			}
		}
	})
	return s
}

// rawCall sends one INVITE to the proxy from pc and waits for its final
// response (the caller keeps no transaction either).
func rawCall(pc net.PacketConn, proxy net.Addr, n int) (int, error) {
	inv := strings.ReplaceAll(fmt.Sprintf(`INVITE sip:2000@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP %s;branch=z9hG4bK-bench-%d;rport
From: "Caller" <sip:1999@127.0.0.1>;tag=c%d
To: <sip:2000@127.0.0.1>
Call-ID: bench-%d@127.0.0.1
CSeq: 1 INVITE
Contact: <sip:1999@%s>
Max-Forwards: 70
Content-Length: 0

`, pc.LocalAddr(), n, n, n, pc.LocalAddr()), "\n", "\r\n")
	if _, err := pc.WriteTo([]byte(inv), proxy); err != nil {
		return 0, err
	}
	buf := make([]byte, 65535)
	callID := fmt.Sprintf("bench-%d@127.0.0.1", n)
	for range 100 {
		_ = pc.SetReadDeadline(time.Now().Add(testTimeout))
		k, _, err := pc.ReadFrom(buf)
		if err != nil {
			return 0, err
		}
		msg, err := sip.ParseMessage(append([]byte(nil), buf[:k]...))
		res, ok := msg.(*sip.Response)
		if err != nil || !ok || res.CallID() == nil || res.CallID().Value() != callID || res.StatusCode < 200 {
			continue
		}
		return res.StatusCode, nil
	}
	return 0, fmt.Errorf("call %d: no final response", n)
}

// BenchmarkForkCalls runs 25-way department calls one after the other
// (one phone answers, 24 are CANCELled) and reports, after the last one,
// what the proxy still holds: live heap (after GC), branch INVITE
// transactions still live, and records kept for retransmissions. Run with
// a fixed count, e.g. -benchtime=200x; the wait timer is set as the
// daemon sets it (5 s).
func BenchmarkForkCalls(b *testing.B) {
	defer func(d time.Duration) { sip.Timer_D = d }(sip.Timer_D)
	sip.Timer_D = 5 * time.Second
	var branches []ringplan.Branch
	for i := range 25 {
		answer := time.Duration(0)
		if i == 12 {
			answer = 10 * time.Millisecond
		}
		branches = append(branches, departmentPhone(b, answer, nil).branch(fmt.Sprint("op", i)))
	}
	px := newProxy(b, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second, Branches: branches}, "")
	px.keepNoEvents() // the harness's event log would be most of the heap
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer pc.Close()
	proxyAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: px.port}
	var m0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		status, err := rawCall(pc, proxyAddr, n)
		if err != nil || status != 200 {
			b.Fatalf("call %d: %d %v", n, status, err)
		}
		select {
		case r := <-px.results:
			if r.err != nil {
				b.Fatalf("Execute: %v", r.err)
			}
		case <-time.After(testTimeout):
			b.Fatal("Execute did not return")
		}
		n++
	}
	b.StopTimer()
	var m1 runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m1)
	b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/(1<<20), "live-MB")
	b.ReportMetric(float64(liveBranchTransactions(px.exec)), "live-tx")
	b.ReportMetric(float64(retainedRecords(px.exec)), "records")
}

func liveBranchTransactions(e *Executor) int { return e.LiveTransactions() }

func retainedRecords(e *Executor) int { return e.Retained() }

// BenchmarkForkLoad offers 500 25-way department calls at 50 calls/s
// (one phone answers after 200 ms, 24 are CANCELled) to an in-process
// proxy with raw phones and callers, and reports what the phones saw
// retransmitted (INVITE, CANCEL: a stall in the proxy shows there first),
// failed calls, the slowest call and the branch transactions left. Run
// with -benchtime=1x; wall-clock figures are only meaningful on a quiet
// machine.
func BenchmarkForkLoad(b *testing.B) {
	for b.Loop() {
		forkLoad(b)
	}
}

func forkLoad(t *testing.B) { // t: the benchmark, named like the tests whose harness it shares
	defer func(d time.Duration) { sip.Timer_D = d }(sip.Timer_D)
	sip.Timer_D = 5 * time.Second
	var acks atomic.Int64
	var seenMu sync.Mutex
	seen := map[string]int{}
	var branches []ringplan.Branch
	for i := range 25 {
		answer := time.Duration(0)
		if i == 12 {
			answer = 200 * time.Millisecond
		}
		ph := departmentPhone(t, answer, func(req *sip.Request) {
			branch, _ := req.Via().Params.Get("branch")
			seenMu.Lock()
			seen[string(req.Method)+branch]++
			seenMu.Unlock()
			if req.Method == sip.ACK {
				acks.Add(1)
			}
		})
		branches = append(branches, ph.branch(fmt.Sprint("op", i)))
	}
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second, Branches: branches}, "")
	px.keepNoEvents()
	px.results = make(chan execResult, 1000)
	proxyAddr := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: px.port}
	const calls = 500
	var wg sync.WaitGroup
	var lat [calls]time.Duration
	var fails atomic.Int64
	start := time.Now()
	for n := range calls {
		time.Sleep(time.Until(start.Add(time.Duration(n) * 20 * time.Millisecond)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc, err := net.ListenPacket("udp", "127.0.0.1:0")
			if err != nil {
				fails.Add(1)
				return
			}
			defer pc.Close()
			t0 := time.Now()
			st, err := rawCall(pc, proxyAddr, n)
			lat[n] = time.Since(t0)
			if err != nil || st != 200 {
				fails.Add(1)
			}
		}()
	}
	wg.Wait()
	time.Sleep(2 * time.Second)
	dup := map[string]int{}
	seenMu.Lock()
	for k, v := range seen {
		if v > 1 {
			dup[k[:3]] += v - 1
		}
	}
	seenMu.Unlock()
	var slowest time.Duration
	for _, l := range lat {
		slowest = max(slowest, l)
	}
	t.ReportMetric(float64(dup["INV"]), "invite-retrans")
	t.ReportMetric(float64(dup["CAN"]), "cancel-retrans")
	t.ReportMetric(float64(fails.Load()), "failed")
	t.ReportMetric(float64(12000-acks.Load()), "acks-missing")
	t.ReportMetric(float64(slowest.Milliseconds()), "max-ms")
	t.ReportMetric(float64(liveBranchTransactions(px.exec)), "live-tx")
}
