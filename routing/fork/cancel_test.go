package fork

import (
	"bytes"
	"context"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// TestCancelTransaction: a branch CANCEL runs in the Executor's own
// transaction: over UDP it is sent again, byte for byte, until its final
// response (Timer E), the INVITE's final ends it as well, and once it has
// ended nothing is left in the CANCEL table and nothing more is sent.
func TestCancelTransaction(t *testing.T) {
	tests := []struct {
		name    string
		answer  int  // the CANCEL the phone answers (1 = the first)
		with200 bool // it answers with a 200 before the 487 (else the 487 alone)
		want    int  // CANCELs the phone gets
	}{
		{"answered at once", 1, true, 1},
		{"first CANCEL lost", 2, true, 2},
		{"first two CANCELs lost", 3, true, 3},
		{"only the 487 ends it", 2, false, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			cancels := 0
			ph := newScripted(t, func(s *scripted, req *sip.Request, from net.Addr) {
				mu.Lock()
				defer mu.Unlock()
				switch req.Method {
				case sip.INVITE:
					s.send(from, sip.NewResponseFromRequest(tagged(req), 180, "Ringing", nil))
				case sip.CANCEL:
					cancels++
					if cancels != tc.answer {
						return // lost
					}
					if tc.with200 {
						s.send(from, sip.NewResponseFromRequest(req, 200, "OK", nil))
					}
					inv, _, _ := s.got(sip.INVITE)
					s.send(from, sip.NewResponseFromRequest(tagged(inv[0]), 487, "Request Terminated", nil))
				}
			})
			px := answeredBeside(t, ph)
			ph.await(t, sip.ACK, 1) // the 487 was ACKed
			px.result(t)
			if n := px.exec.LiveCancels(); n != 0 {
				t.Errorf("%d CANCEL transactions live after the call, want 0", n)
			}
			time.Sleep(3 * sip.T1) // past the next two retransmissions (T1, 2·T1 later)
			got, raws, _ := ph.got(sip.CANCEL)
			if len(got) != tc.want {
				t.Errorf("phone got %d CANCELs, want %d", len(got), tc.want)
			}
			for k := 1; k < len(raws); k++ {
				if !bytes.Equal(raws[0], raws[k]) {
					t.Errorf("CANCEL %d differs from the first:\n%s\n---\n%s", k+1, raws[0], raws[k])
				}
			}
			invs, _, _ := ph.got(sip.INVITE)
			wantBranch, _ := invs[0].Via().Params.Get("branch")
			for _, r := range got {
				if b, _ := r.Via().Params.Get("branch"); b != wantBranch || len(r.GetHeaders("Via")) != 1 {
					t.Errorf("CANCEL Via %v, want the INVITE's top Via alone (branch %q)", r.GetHeaders("Via"), wantBranch)
				}
			}
		})
	}
}

// TestInviteTransaction: a branch INVITE's client transaction (ours) over UDP
// sends it again, byte for byte, until a response comes (Timer A), a
// provisional one stops that, without any response the branch times out
// at Timer B and counts as 408, and nothing is sent once it has ended.
func TestInviteTransaction(t *testing.T) {
	defer func(b time.Duration) { sip.Timer_B = b }(sip.Timer_B)
	sip.Timer_B = 4 * sip.T1 // INVITEs at 0, T1 and 3·T1, then the timeout
	tests := []struct {
		name    string
		respond int  // the INVITE the phone responds to (1 = the first); 0 = none
		ring    bool // with a 180 first, the final 2·T1 later
		status  int  // what the caller gets
		invites int  // INVITEs the phone gets
	}{
		{"answered at once", 1, false, 486, 1},
		{"first INVITE lost", 2, false, 486, 2},
		{"ringing stops the retransmissions", 1, true, 486, 1},
		{"silent phone times out", 0, false, 408, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			invites := 0
			ph := newScripted(t, func(s *scripted, req *sip.Request, from net.Addr) {
				if req.Method != sip.INVITE {
					return
				}
				mu.Lock()
				invites++
				n := invites
				mu.Unlock()
				if n != tc.respond {
					return // lost
				}
				busy := sip.NewResponseFromRequest(tagged(req), 486, "Busy Here", nil)
				if !tc.ring {
					s.send(from, busy)
					return
				}
				s.send(from, sip.NewResponseFromRequest(tagged(req), 180, "Ringing", nil))
				time.AfterFunc(2*sip.T1, func() { s.send(from, busy) })
			})
			px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
				Branches: []ringplan.Branch{ph.branch("raw")}}, "")
			c := newCaller(t)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			status, _ := c.call(ctx, t, px.port)
			if status != tc.status {
				t.Fatalf("caller got %d (%v), want %d", status, c.responses(), tc.status)
			}
			px.result(t)
			if n := px.exec.LiveTransactions(); n != 0 {
				t.Errorf("%d branch transactions live after the call, want 0", n)
			}
			time.Sleep(2 * sip.T1) // a transaction left running would send again
			got, raws, _ := ph.got(sip.INVITE)
			if len(got) != tc.invites {
				t.Errorf("phone got %d INVITEs, want %d", len(got), tc.invites)
			}
			for k := 1; k < len(raws); k++ {
				if !bytes.Equal(raws[0], raws[k]) {
					t.Errorf("INVITE %d differs from the first:\n%s\n---\n%s", k+1, raws[0], raws[k])
				}
			}
			if acks, _, _ := ph.got(sip.ACK); tc.status == 486 && len(acks) != 1 {
				t.Errorf("phone got %d ACKs, want 1", len(acks))
			}
		})
	}
}

// answeredBeside forks a call to the scripted phone ph and to a phone that
// answers 200 ms in, and returns the proxy once the caller has the 200 and
// has ACKed it: ph's branch is then being CANCELled.
func answeredBeside(t *testing.T, ph *scripted) *proxy {
	t.Helper()
	p1 := newPhone(t, "p1", behaviour{final: 200, after: 200 * time.Millisecond})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{ph.branch("raw"), branchTo(p1)}}, "")
	c := newCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	status, sess := c.call(ctx, t, px.port)
	if status != 200 {
		t.Fatalf("caller got %d (%v), want 200", status, c.responses())
	}
	_ = sess.Ack(ctx)
	return px
}
