package fork

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// scripted is a raw UDP phone: every request it reads goes to its script,
// which answers with raw datagrams, so the test sees exactly what was on
// the wire (a sipgo phone's transactions would absorb retransmissions).
type scripted struct {
	pc   net.PacketConn
	addr string

	mu   sync.Mutex
	reqs []*sip.Request
	raw  [][]byte
	at   []time.Time
}

func newScripted(t testing.TB, script func(s *scripted, req *sip.Request, from net.Addr)) *scripted {
	t.Helper()
	return startScripted(t, true, script)
}

// newScriptedQuiet is a scripted phone that records nothing.
func newScriptedQuiet(t testing.TB, script func(s *scripted, req *sip.Request, from net.Addr)) *scripted {
	t.Helper()
	return startScripted(t, false, script)
}

func startScripted(t testing.TB, keep bool, script func(s *scripted, req *sip.Request, from net.Addr)) *scripted {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{pc: pc, addr: pc.LocalAddr().String()}
	done := make(chan struct{})
	t.Cleanup(func() { pc.Close(); <-done })
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		deadline := time.Now().Add(2 * testTimeout)
		for range 100000 {
			_ = pc.SetReadDeadline(deadline)
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			raw := append([]byte(nil), buf[:n]...)
			msg, err := sip.ParseMessage(append([]byte(nil), raw...))
			req, ok := msg.(*sip.Request)
			if err != nil || !ok {
				continue
			}
			if keep {
				s.mu.Lock()
				s.reqs, s.raw, s.at = append(s.reqs, req), append(s.raw, raw), append(s.at, time.Now())
				s.mu.Unlock()
			}
			script(s, req, from)
		}
	}()
	return s
}

func (s *scripted) send(to net.Addr, m sip.Message) {
	_, _ = s.pc.WriteTo([]byte(m.String()), to)
}

func (s *scripted) branch(name string) ringplan.Branch {
	return ringplan.Branch{User: name, Contact: ringplan.Contact{User: name, URI: "sip:" + name + "@" + s.addr,
		Source: s.addr, Transport: "udp"}}
}

// got returns the requests with that method so far, their raw bytes and
// arrival times.
func (s *scripted) got(method sip.RequestMethod) ([]*sip.Request, [][]byte, []time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var reqs []*sip.Request
	var raws [][]byte
	var ats []time.Time
	for i, r := range s.reqs {
		if r.Method == method {
			reqs, raws, ats = append(reqs, r), append(raws, s.raw[i]), append(ats, s.at[i])
		}
	}
	return reqs, raws, ats
}

// await waits until the phone got n requests with that method.
func (s *scripted) await(t testing.TB, method sip.RequestMethod, n int) ([]*sip.Request, [][]byte, []time.Time) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		reqs, raws, ats := s.got(method)
		if len(reqs) >= n {
			return reqs, raws, ats
		}
		if time.Now().After(deadline) {
			t.Fatalf("phone %s got %d %s, want %d", s.addr, len(reqs), method, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// tagged is req with the phone's To tag, for its responses.
func tagged(req *sip.Request) *sip.Request {
	r := req.Clone()
	r.To().Params.Add("tag", "scripted")
	return r
}
