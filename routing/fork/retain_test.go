package fork

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// TestStoreLifetime: a record is found for at least the window and gone
// one span (window/3) after it, whatever the ring turned meanwhile.
func TestStoreLifetime(t *testing.T) {
	const window = 3 * time.Second // span 1 s
	tests := []struct {
		name     string
		put, get time.Duration // after the store's first use
		want     bool
	}{
		{"at once", 0, 0, true},
		{"just before the window", 0, 2999 * time.Millisecond, true},
		{"late in a span, just before the window", 999 * time.Millisecond, 3998 * time.Millisecond, true},
		{"one span after the window", 0, 4 * time.Second, false},
		{"late in a span, one span after the window", 999 * time.Millisecond, 4999 * time.Millisecond, false},
		{"long idle", 0, time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t0 := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
			now := t0
			s := newStore(window)
			s.now = func() time.Time { return now }
			s.put("first", record{}) // starts the ring at t0
			now = t0.Add(tc.put)
			s.put("k", record{ack: []byte("ACK")})
			// Other traffic turns the ring every 100 ms meanwhile.
			for now.Before(t0.Add(tc.get)) && now.Sub(t0) < time.Minute {
				now = now.Add(100 * time.Millisecond)
				s.put("noise", record{})
			}
			now = t0.Add(tc.get)
			rec, ok := s.get([]byte("k"))
			if ok != tc.want {
				t.Fatalf("record found = %v after %v (put at %v), want %v", ok, tc.get, tc.put, tc.want)
			}
			if ok && string(rec.ack) != "ACK" {
				t.Errorf("record = %q", rec.ack)
			}
		})
	}
}

// TestStoreBounded: a generation holds at most retainMax records; the
// rest are refused, and the ring takes new ones once it turns.
func TestStoreBounded(t *testing.T) {
	now := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	s := newStore(3 * time.Second)
	s.now = func() time.Time { return now }
	for i := range retainMax {
		if !s.put(fmt.Sprint(i), record{}) {
			t.Fatalf("record %d refused", i)
		}
	}
	if s.put("one too many", record{}) {
		t.Fatal("record beyond retainMax kept")
	}
	if n := s.len(); n != retainMax {
		t.Errorf("len = %d, want %d", n, retainMax)
	}
	now = now.Add(time.Second)
	if !s.put("next span", record{}) {
		t.Error("record refused after the ring turned")
	}
	now = now.Add(time.Hour)
	if n := s.len(); n != 0 {
		t.Errorf("len = %d after an hour, want 0", n)
	}
}

// TestRetransmittedFinalGetsSameACKAtOnce: once a branch's non-2xx final
// response is ACKed, its transaction is gone from the table (not Timer D
// later); a retransmission of that response gets the very same ACK again,
// with one Via, at once (sipgo's Completed state waits T2 = 4 s first),
// and the 200 to our CANCEL, its transaction also ended, reaches the
// unmatched-response handler instead of a lingering transaction.
func TestRetransmittedFinalGetsSameACKAtOnce(t *testing.T) {
	tests := []struct {
		name   string
		status int
		winner bool // another branch answers: this one is CANCELled
	}{
		{"busy", 486, false},
		{"declined", 603, false},
		{"cancelled after another answered", 487, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var finalRes, cancelOK *sip.Response
			var acks int
			ph := newScripted(t, func(s *scripted, req *sip.Request, from net.Addr) {
				mu.Lock()
				defer mu.Unlock()
				switch req.Method {
				case sip.INVITE:
					if tc.winner {
						s.send(from, sip.NewResponseFromRequest(tagged(req), 180, "Ringing", nil))
						return
					}
					finalRes = sip.NewResponseFromRequest(tagged(req), tc.status, "Scripted", nil)
					s.send(from, finalRes)
				case sip.CANCEL:
					cancelOK = sip.NewResponseFromRequest(req, 200, "OK", nil)
					s.send(from, cancelOK)
					inv, _, _ := s.got(sip.INVITE)
					finalRes = sip.NewResponseFromRequest(tagged(inv[0]), 487, "Request Terminated", nil)
					s.send(from, finalRes)
				case sip.ACK:
					acks++
					if acks == 1 { // as if the ACK was lost: the final again, then the 200 to CANCEL
						s.send(from, finalRes)
						if cancelOK != nil {
							time.Sleep(50 * time.Millisecond) // our CANCEL's transaction took the first 200
							s.send(from, cancelOK)
						}
					}
				}
			})
			branches := []ringplan.Branch{ph.branch("raw")}
			if tc.winner {
				p1 := newPhone(t, "p1", behaviour{final: 200, after: 200 * time.Millisecond})
				branches = append(branches, branchTo(p1))
			}
			px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second, Branches: branches}, "")
			c := newCaller(t)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			status, sess := c.call(ctx, t, px.port)
			want := tc.status
			if tc.winner {
				want = 200
				_ = sess.Ack(ctx)
			}
			if status != want {
				t.Fatalf("caller got %d (%v), want %d", status, c.responses(), want)
			}
			ph.await(t, sip.ACK, 1)
			if n := px.exec.LiveTransactions(); n != 0 {
				t.Errorf("%d branch transactions still live once the ACK was sent, want 0", n)
			}
			acksGot, raws, ats := ph.await(t, sip.ACK, 2)
			if !bytes.Equal(raws[0], raws[1]) {
				t.Errorf("second ACK differs from the first:\n%s\n---\n%s", raws[0], raws[1])
			}
			invs, _, _ := ph.got(sip.INVITE)
			wantBranch, _ := invs[0].Via().Params.Get("branch")
			for _, ack := range acksGot {
				if vias := ack.GetHeaders("Via"); len(vias) != 1 {
					t.Errorf("ACK has %d Via, want 1:\n%s", len(vias), ack)
				}
				if b, _ := ack.Via().Params.Get("branch"); b != wantBranch {
					t.Errorf("ACK branch %q, want the INVITE's %q", b, wantBranch)
				}
			}
			// Behaviour, not speed: sipgo's Completed state would sleep
			// T2 (4 s) before this ACK; ours answers from the record.
			if gap := ats[1].Sub(ats[0]); gap > sip.T2/2 {
				t.Errorf("second ACK came %v after the first, want at once (sipgo waits T2 = %v)", gap, sip.T2)
			}
			if tc.winner {
				waitFor(t, func() bool { return slices.Contains(px.strayResponses(), "200 CANCEL") }, func() string {
					return fmt.Sprintf("retransmitted 200 to CANCEL not unmatched (its transaction lingers); strays %v",
						px.strayResponses())
				})
			}
			px.result(t)
			if n := px.exec.LiveTransactions(); n != 0 {
				t.Errorf("%d branch transactions live after the call, want 0", n)
			}
			if n := px.exec.Retained(); n < 1 {
				t.Errorf("retained records = %d, want the ACK's", n)
			}
		})
	}
}

// TestNoGoroutinePerRecord: the records released transactions leave are
// plain map entries: many calls later, records are held and the goroutine
// count is back where it was.
func TestNoGoroutinePerRecord(t *testing.T) {
	const calls, width = 20, 5
	var branches []ringplan.Branch
	for i := range width {
		ph := newScripted(t, func(s *scripted, req *sip.Request, from net.Addr) {
			if req.Method == sip.INVITE {
				s.send(from, sip.NewResponseFromRequest(tagged(req), 486, "Busy Here", nil))
			}
		})
		branches = append(branches, ph.branch(fmt.Sprint("b", i)))
	}
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second, Branches: branches}, "")
	c := newCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	before := -1
	for i := range calls {
		if status, _ := c.call(ctx, t, px.port); status != 486 {
			t.Fatalf("call %d: caller got %d, want 486", i, status)
		}
		px.result(t)
		if i == 0 { // after the first call: sockets, pools and readers exist
			before, _ = clientGoroutines()
		}
	}
	if n := px.exec.LiveTransactions(); n != 0 {
		t.Errorf("%d branch transactions live, want 0", n)
	}
	if n := px.exec.Retained(); n != calls*width {
		t.Errorf("retained records = %d, want %d (one ACK per branch)", n, calls*width)
	}
	after, stacks := clientGoroutines()
	for range 100 { // the last call's goroutines may still be ending
		if after <= before+2 {
			break
		}
		time.Sleep(20 * time.Millisecond)
		after, stacks = clientGoroutines()
	}
	if after > before+2 {
		t.Errorf("goroutines %d after %d more calls, %d after the first: records must not cost goroutines\n%s",
			after, calls-1, before, stacks)
	}
}

// clientGoroutines counts the goroutines but those of sipgo server
// transactions (the proxy's caller side, which holds an ACK goroutine
// per answered INVITE until Timer I; not the fork's business), and
// returns the stacks it counted.
func clientGoroutines() (int, string) {
	buf := make([]byte, 4<<20)
	all := string(buf[:runtime.Stack(buf, true)])
	n := 0
	var kept []string
	for _, g := range strings.Split(all, "\n\n") {
		if strings.Contains(g, "(*ServerTx)") {
			continue
		}
		n++
		kept = append(kept, g)
	}
	return n, strings.Join(kept, "\n\n")
}

// fakeConn is a sip.Connection that records what is written through it;
// packet also gives it WriteTo, as sipgo's UDP connections have.
type fakeConn struct {
	msgs    []sip.Message
	packets [][]byte
	to      []net.Addr
}

func (f *fakeConn) LocalAddr() net.Addr          { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5060} }
func (f *fakeConn) WriteMsg(m sip.Message) error { f.msgs = append(f.msgs, m); return nil }
func (f *fakeConn) Ref(int) int                  { return 1 }
func (f *fakeConn) TryClose() (int, error)       { return 0, nil }
func (f *fakeConn) Close() error                 { return nil }
func (f *packetConn) WriteTo(b []byte, a net.Addr) (int, error) {
	f.packets, f.to = append(f.packets, append([]byte(nil), b...)), append(f.to, a)
	return len(b), nil
}

type packetConn struct{ fakeConn }

// TestACKConn: the ACK of a non-2xx leaves with the INVITE's top Via only
// on every transport; over UDP to an address its bytes are kept under the
// transaction key, over TCP (or to a host name, left to sipgo) nothing is.
func TestACKConn(t *testing.T) {
	inv := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "p", Host: "127.0.0.1", Port: 5070})
	inv.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-ours"))
	inv.AppendHeader(sip.NewHeader("Via", "SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bK-caller"))
	inv.AppendHeader(sip.NewHeader("Call-ID", "ackconn@test"))
	inv.AppendHeader(&sip.CSeqHeader{SeqNo: 1, MethodName: sip.INVITE})
	res := sip.NewResponseFromRequest(inv, 487, "Request Terminated", nil)
	tests := []struct {
		name   string
		udp    bool
		packet bool
		dest   string
		kept   bool
	}{
		{"udp to an address", true, true, "127.0.0.1:5070", true},
		{"tcp", false, false, "127.0.0.1:5070", false},
		{"udp to a host name", true, true, "phone.test:5070", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var pc packetConn
			var conn sip.Connection = &pc.fakeConn
			if tc.packet {
				conn = &pc
			}
			st := newStore(5 * time.Second)
			c := &ackConn{Connection: conn, dest: tc.dest, udp: tc.udp, key: "z9hG4bK-ours__INVITE", keep: st}
			if err := c.ack(inv, res); err != nil {
				t.Fatal(err)
			}
			var wire string
			switch {
			case len(pc.packets) == 1 && len(pc.msgs) == 0:
				wire = string(pc.packets[0])
			case len(pc.msgs) == 1 && len(pc.packets) == 0:
				wire = pc.msgs[0].String()
			default:
				t.Fatalf("%d messages and %d packets written, want one", len(pc.msgs), len(pc.packets))
			}
			if n := strings.Count(wire, "Via:"); n != 1 || !strings.Contains(wire, "z9hG4bK-ours") {
				t.Errorf("ACK on the wire has %d Via, want ours alone:\n%s", n, wire)
			}
			rec, ok := st.get([]byte("z9hG4bK-ours__INVITE"))
			if ok != tc.kept {
				t.Fatalf("record kept = %v, want %v", ok, tc.kept)
			}
			if ok && (string(rec.ack) != wire || rec.to.String() != tc.dest) {
				t.Errorf("record = %q to %v, want the ACK as sent to %s", rec.ack, rec.to, tc.dest)
			}
			// A non-ACK passes through untouched.
			if err := c.WriteMsg(inv); err != nil || len(pc.msgs) == 0 || pc.msgs[len(pc.msgs)-1] != inv || len(inv.GetHeaders("Via")) != 2 {
				t.Errorf("INVITE not passed to the connection as is")
			}
		})
	}
}

// TestAnswerRetransmissionRelayed: the answering branch's transaction ends
// at its 2xx; the phone's retransmission of that 2xx (its ACK was late)
// still reaches the caller, from the record, as the first did: our Via
// popped, the caller's own From. A 1xx after it is dropped.
func TestAnswerRetransmissionRelayed(t *testing.T) {
	ph := newScripted(t, func(s *scripted, req *sip.Request, from net.Addr) {
		if req.Method != sip.INVITE {
			return
		}
		ok := sip.NewResponseFromRequest(tagged(req), 200, "OK", nil)
		ok.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: "raw", Host: "127.0.0.1"}})
		ok.From().DisplayName = "Rewritten By Phone"
		s.send(from, ok)
		time.Sleep(100 * time.Millisecond)
		s.send(from, ok)
		s.send(from, sip.NewResponseFromRequest(tagged(req), 180, "Late", nil))
	})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{ph.branch("raw")}}, "")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if status, err := rawCall(pc, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: px.port}, 1); err != nil || status != 200 {
		t.Fatalf("caller got %d, %v; want 200", status, err)
	}
	px.result(t)
	if n := px.exec.LiveTransactions(); n != 0 {
		t.Errorf("%d branch transactions live after the 2xx, want 0", n)
	}
	// rawCall consumed the first 200; the retransmission follows.
	var got []*sip.Response
	buf := make([]byte, 65535)
	_ = pc.SetReadDeadline(time.Now().Add(time.Second))
	for range 10 {
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			break
		}
		msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
		if res, ok := msg.(*sip.Response); err == nil && ok {
			got = append(got, res)
		}
	}
	if len(got) != 1 || got[0].StatusCode != 200 {
		var codes []int
		for _, r := range got {
			codes = append(codes, r.StatusCode)
		}
		t.Fatalf("caller got %v after the first 200, want the retransmitted 200 alone", codes)
	}
	r := got[0]
	if vias := r.GetHeaders("Via"); len(vias) != 1 || !strings.Contains(vias[0].Value(), "z9hG4bK-bench-1") {
		t.Errorf("retransmitted 200 Via = %v, want the caller's alone", vias)
	}
	if f := r.From(); f == nil || f.DisplayName != "Caller" {
		t.Errorf("retransmitted 200 From = %v, want the caller's own", f)
	}
}

// TestCancelEndsWithTheFinal: a CANCEL's transaction ends once the
// INVITE it cancels has its final response. The phone here answers the
// CANCEL only with the INVITE's 487 (its 200 to the CANCEL is lost): the
// CANCEL must not be sent again (T1 = 500 ms later) to a phone that has
// finished the transaction — sipp aborts the call on such a CANCEL.
func TestCancelEndsWithTheFinal(t *testing.T) {
	ph := newScripted(t, func(s *scripted, req *sip.Request, from net.Addr) {
		switch req.Method {
		case sip.INVITE:
			s.send(from, sip.NewResponseFromRequest(tagged(req), 180, "Ringing", nil))
		case sip.CANCEL:
			inv, _, _ := s.got(sip.INVITE)
			s.send(from, sip.NewResponseFromRequest(tagged(inv[0]), 487, "Request Terminated", nil))
		}
	})
	px := answeredBeside(t, ph)
	ph.await(t, sip.ACK, 1) // the 487 was ACKed: the INVITE transaction is over
	time.Sleep(3 * sip.T1)  // past the first two retransmissions of a CANCEL (T1, 3·T1)
	if cancels, _, _ := ph.got(sip.CANCEL); len(cancels) != 1 {
		t.Errorf("phone got %d CANCELs, want 1 (no retransmission once the 487 is in)", len(cancels))
	}
	px.result(t)
}
