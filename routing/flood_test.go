package routing

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

func TestBudgets(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	a, b := netip.MustParseAddr("192.0.2.10"), netip.MustParseAddr("192.0.2.11")
	type step struct {
		src  netip.Addr
		at   time.Duration
		want budgetVerdict
	}
	steps := []step{
		{a, 0, budgetOK}, {a, 0, budgetOK}, {a, 0, budgetOK}, // the burst
		{a, 0, budgetRefuse}, {a, 0, budgetRefuse}, // the refusal burst
		{a, 0, budgetDrop}, {a, 0, budgetDrop}, // silence beyond it
		{b, 0, budgetOK},                    // another source has its own budget
		{a, time.Second, budgetOK},          // one request refilled
		{a, time.Second, budgetRefuse},      // and one refusal
		{a, time.Second, budgetDrop},        //
		{a, 10 * time.Second, budgetOK},     // refilled to the burst, no more
		{a, 10 * time.Second, budgetOK},     //
		{a, 10 * time.Second, budgetOK},     //
		{a, 10 * time.Second, budgetRefuse}, //
	}
	bs := newBudgets(FloodOptions{Rate: 1, Burst: 3, RefuseRate: 1, RefuseBurst: 2})
	for i, st := range steps {
		if got := bs.take(st.src, t0.Add(st.at)); got != st.want {
			t.Errorf("step %d (%v at %v): %v, want %v", i, st.src, st.at, got, st.want)
		}
	}
	bs.sweep(t0.Add(time.Minute))
	if n := bs.count(); n != 0 {
		t.Errorf("%d sources kept after all buckets refilled", n)
	}
}

// TestBudgetsManySources: the table is bounded; beyond it newcomers share
// one refusal budget until a sweep (at most once a second) frees entries.
func TestBudgetsManySources(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	bs := newBudgets(FloodOptions{Rate: 10, Burst: 5, RefuseRate: 1, RefuseBurst: 2})
	src := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range maxLimitSources {
		if v := bs.take(src(i), t0); v != budgetOK {
			t.Fatalf("source %d: %v", i, v)
		}
	}
	var got []budgetVerdict
	for i := range 4 {
		got = append(got, bs.take(src(maxLimitSources+i), t0))
	}
	if want := []budgetVerdict{budgetRefuse, budgetRefuse, budgetDrop, budgetDrop}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("newcomers to a full table: %v, want %v", got, want)
	}
	if n := bs.count(); n != maxLimitSources+1 {
		t.Errorf("table holds %d, want %d (+1 shared overflow entry)", n, maxLimitSources+1)
	}
	// A second later the first sources' buckets are full again: the next
	// newcomer's sweep frees them.
	if v := bs.take(src(maxLimitSources+10), t0.Add(2*time.Second)); v != budgetOK {
		t.Errorf("newcomer after the buckets refilled: %v", v)
	}
	if n := bs.count(); n != 1 {
		t.Errorf("table holds %d after the sweep, want 1", n)
	}
}

// recorded runs req through the server's entry point as sipgo does (the
// handler, then TerminateGracefully) and returns the responses and whether
// the transaction was kept alive after the handler returned: sipgo keeps
// an answered UDP transaction for its retransmission timers, a stateless
// answer leaves none.
func recorded(t *testing.T, s *Server, req *sip.Request) ([]*sip.Response, bool) {
	t.Helper()
	rec := siptest.NewServerTxRecorder(req)
	t.Cleanup(rec.Terminate)
	s.handle(req, rec)
	rec.TerminateGracefully()
	kept := true
	select {
	case <-rec.Done():
		kept = false
	default:
	}
	return rec.Result(), kept
}

func finalOf(rs []*sip.Response) *sip.Response {
	for _, r := range rs {
		if r.StatusCode >= 200 {
			return r
		}
	}
	return nil
}

func reqText(method, ruri, to, extra string) string {
	return fmt.Sprintf(`
%[1]s %[2]s SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-%[4]s;rport
Max-Forwards: 70
From: <sip:1001@test.example>;tag=f1
To: %[3]s
Call-ID: %[4]s@192.0.2.10
CSeq: 1 %[1]s
Contact: <sip:1001@192.0.2.10:5062>
%[5]sContent-Length: 0

`, method, ruri, to, sip.GenerateBranchN(10), extra)
}

// TestStatelessUntilAdmitted: challenges and refusals of requests that have
// not authenticated leave no transaction behind (nothing to retransmit, no
// 32 s state); an authenticated request's answer is kept for its
// retransmissions, in the retransmission cache.
func TestStatelessUntilAdmitted(t *testing.T) {
	s := testServer(t)
	cases := []struct {
		name, text string
		status     int
	}{
		{"REGISTER challenge", reqText("REGISTER", "sip:test.example", "<sip:1001@test.example>", "Expires: 300\n"), 401},
		{"INVITE challenge", reqText("INVITE", "sip:1002@test.example", "<sip:1002@test.example>", ""), 407},
		{"SUBSCRIBE challenge", reqText("SUBSCRIBE", "sip:1002@test.example", "<sip:1002@test.example>", "Event: dialog\n"), 407},
		{"SUBSCRIBE without Event", reqText("SUBSCRIBE", "sip:1002@test.example", "<sip:1002@test.example>", ""), 489},
		{"REGISTER elsewhere", reqText("REGISTER", "sip:other.example", "<sip:1001@test.example>", ""), 404},
		{"OPTIONS keepalive", reqText("OPTIONS", "sip:test.example", "<sip:test.example>", ""), 200},
		{"PUBLISH", reqText("PUBLISH", "sip:1002@test.example", "<sip:1002@test.example>", "Event: presence\n"), 405},
		{"MESSAGE outside a dialog", reqText("MESSAGE", "sip:1002@test.example", "<sip:1002@test.example>", ""), 405},
		{"BYE of no dialog", reqText("BYE", "sip:1002@test.example", "<sip:1002@test.example>;tag=x", ""), 481},
		{"CANCEL of nothing", reqText("CANCEL", "sip:1002@test.example", "<sip:1002@test.example>", ""), 481},
		{"unsigned Route", reqText("BYE", "sip:1002@192.0.2.20", "<sip:1002@test.example>;tag=x",
			"Route: <sip:127.0.0.1:5060;lr>\n"), 403},
		{"bad request", strings.Replace(reqText("OPTIONS", "sip:test.example", "<sip:test.example>", ""),
			"CSeq: 1 OPTIONS", "CSeq: 1 INVITE", 1), 400},
		{"Max-Forwards 0", strings.Replace(reqText("INVITE", "sip:1002@test.example", "<sip:1002@test.example>", ""),
			"Max-Forwards: 70", "Max-Forwards: 0", 1), 483},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs, kept := recorded(t, s, parseReq(t, c.text))
			res := finalOf(rs)
			if res == nil || res.StatusCode != c.status {
				t.Fatalf("answered %v, want %d", rs, c.status)
			}
			if kept {
				t.Errorf("%d answered through a transaction that outlives the handler", c.status)
			}
		})
	}
	t.Run("authenticated REGISTER", func(t *testing.T) {
		rs, kept := recorded(t, s, parseReq(t, authRegister(t, s)))
		if res := finalOf(rs); res == nil || res.StatusCode != 200 {
			t.Fatalf("answered %v, want 200", rs)
		}
		// Admitted: the transaction ends with its 200 all the same, which
		// stays in the retransmission cache (retrans.go).
		if kept {
			t.Errorf("an authenticated REGISTER's transaction outlives its 200")
		}
		if st := s.retrans.finals.stats(s.now()); st.Records != 1 {
			t.Errorf("retransmission records %+v, want the 200", st)
		}
	})
}

// TestSourceBudget: requests of one LAN source beyond its budget get a
// stateless 503 with Retry-After, then nothing; loopback and trusted trunk
// sources have no budget.
func TestSourceBudget(t *testing.T) {
	s := testServer(t, func(o *Options) {
		o.Flood = FloodOptions{Rate: 0.001, Burst: 3, RefuseRate: 0.001, RefuseBurst: 2}
		o.Trunk.Trusted = []netip.Prefix{mustPrefix("198.51.100.0/24")}
	})
	options := reqText("OPTIONS", "sip:test.example", "<sip:test.example>", "")
	for _, src := range []string{"127.0.0.1:5062", "[::1]:5062", "198.51.100.7:5060"} {
		for i := range 8 {
			req := parseReq(t, options)
			req.SetSource(src)
			if res := finalOf(mustRecorded(t, s, req)); res == nil || res.StatusCode != 200 {
				t.Fatalf("%s request %d: %v, want 200 (no budget)", src, i+1, res)
			}
		}
	}
	var got []string
	for range 7 {
		rs, kept := recorded(t, s, parseReq(t, options))
		if kept {
			t.Errorf("a budget answer kept its transaction")
		}
		res := finalOf(rs)
		switch {
		case res == nil:
			got = append(got, "-")
		case res.StatusCode == 503 && res.GetHeader("Retry-After") != nil:
			got = append(got, "503+Retry-After")
		default:
			got = append(got, fmt.Sprint(res.StatusCode))
		}
	}
	want := "[200 200 200 503+Retry-After 503+Retry-After - -]"
	if fmt.Sprint(got) != want {
		t.Errorf("a LAN source's OPTIONS answered %v, want %s", got, want)
	}
	if st := s.Stats(); st.OverBudget != 4 {
		t.Errorf("Stats.OverBudget = %d, want 4", st.OverBudget)
	}
}

func mustRecorded(t *testing.T, s *Server, req *sip.Request) []*sip.Response {
	t.Helper()
	rs, _ := recorded(t, s, req)
	return rs
}

// TestTransactionCap: beyond MaxTransactions live server transactions every
// request gets a stateless 503 with Retry-After; the count follows the
// transactions' end.
func TestTransactionCap(t *testing.T) {
	s := testServer(t, func(o *Options) { o.Flood = FloodOptions{MaxTransactions: 2} })
	options := reqText("OPTIONS", "sip:test.example", "<sip:test.example>", "")
	var held []*siptest.ServerTxRecorder
	for range 2 { // two transactions in progress
		rec := siptest.NewServerTxRecorder(parseReq(t, options))
		t.Cleanup(rec.Terminate)
		s.track(rec)
		held = append(held, rec)
	}
	rs, kept := recorded(t, s, parseReq(t, options))
	if res := finalOf(rs); res == nil || res.StatusCode != 503 || res.GetHeader("Retry-After") == nil {
		t.Fatalf("at the cap: %v, want 503 with Retry-After", rs)
	}
	if kept {
		t.Errorf("the 503 at the cap kept its transaction")
	}
	if st := s.Stats(); st.Transactions != 2 || st.OverCap != 1 {
		t.Errorf("Stats: %d transactions, %d over the cap; want 2, 1", st.Transactions, st.OverCap)
	}
	held[0].Terminate()
	if res := finalOf(mustRecorded(t, s, parseReq(t, options))); res == nil || res.StatusCode != 200 {
		t.Errorf("under the cap again: %v, want 200", res)
	}
	held[1].Terminate()
	if st := s.Stats(); st.Transactions != 0 {
		t.Errorf("%d transactions counted after all ended", st.Transactions)
	}
}

// TestMemoryReturnedAfterLoad: the sweep after the first quiet interval
// that follows heavy load (many live transactions, or refusals) hands the
// idle heap back, once; quiet intervals do nothing.
func TestMemoryReturnedAfterLoad(t *testing.T) {
	s := testServer(t)
	freed := 0
	s.freeOSMemory = func() { freed++ }
	now := s.now()
	type interval struct {
		name      string
		live      int64  // peak live transactions in the interval
		refused   uint64 // refusals in the interval
		wantFreed int
	}
	steps := []interval{
		{"quiet", 10, 0, 0},
		{"busy but under the threshold", heavyLoadTx - 1, 0, 0},
		{"many live transactions", heavyLoadTx + 5, 0, 0},
		{"quiet again: release", 3, 0, 1},
		{"still quiet", 3, 0, 1},
		{"refusals", 3, 7, 1},
		{"refusals go on", 3, 2, 1},
		{"quiet: release", 0, 0, 2},
	}
	for _, st := range steps {
		s.livePeak.Store(st.live)
		s.overBudget.Add(st.refused)
		s.sweepLoad(now)
		if freed != st.wantFreed {
			t.Fatalf("%s: released %d times, want %d", st.name, freed, st.wantFreed)
		}
	}
}
