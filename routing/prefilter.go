package routing

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// The UDP pre-filter handles a REGISTER that arrives on one of our UDP
// listeners before sipgo's transaction layer sees it.
//
// Through sipgo every request costs a goroutine, a transaction key, a
// server transaction with its context and timers, and that transaction's
// teardown. A REGISTER needs none of it: the first try is answered
// statelessly (a 401 challenge, or a refusal), the authenticated one ends
// its transaction with its final response at once and leaves a compact
// record that answers a retransmission (retrans.go). So a UDP REGISTER is
// parsed once, by sipgo's parser, on the UDP read goroutine and goes
// through the same chain as every other request (handle in middleware.go),
// with a transaction that has no state and writes datagrams back to the
// request's source address.
//
// The request is handled to the end before the next datagram is read, so a
// retransmission of it always meets the record its answer left. Nothing in
// the chain waits on the disk (bindings are written behind) or on the
// network.
//
// The datagram's first bytes ("REGISTER ") pick it; every other message is
// parsed once, by sipgo, as before. What is handled here is decided on
// sipgo's parse: a message the parse does not confirm as a REGISTER goes on
// to sipgo unchanged.

// udpSocket is a UDP listener as the pre-filter answers through it: a
// sip.Connection (so the retransmission records of retrans.go can keep it)
// that writes to the listener's socket.
type udpSocket struct {
	laddr net.Addr // the listener's LocalAddr, as sipgo hands it to the read filter
	pc    net.PacketConn
}

// readFilter is the transport layer's read filter: it notes every message
// for the junk log, then handles on UDP what the pre-filter takes (an empty
// result tells sipgo to drop the datagram).
func (s *Server) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	data, err := s.junk.note(p, data)
	if err != nil || !bytes.HasPrefix(data, []byte("REGISTER ")) || !strings.EqualFold(p.Transport, "udp") {
		return data, err
	}
	if s.prefilter(p, data) {
		return nil, nil
	}
	return data, nil
}

// prefilter handles data, a datagram that starts like a REGISTER, and
// reports whether it did.
func (s *Server) prefilter(p sip.TransportReadProps, data []byte) bool {
	sock := s.udpSocket(p.LocalAddr)
	if sock == nil || p.RemoteAddr == nil {
		return false // a socket sipgo opened itself
	}
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		return false // sipgo parses it again and logs it (junk log)
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != sip.REGISTER {
		return false
	}
	// What sipgo's UDP transport sets on every message it reads.
	req.SetTransport("UDP")
	req.SetSource(p.RemoteAddr.String())
	s.handle(req, &statelessTx{sock: sock, to: p.RemoteAddr})
	return true
}

// udpSocket is our listener whose local address sipgo reports for a read
// (a *net.UDPConn hands out the same address each time); nil for a socket
// sipgo opened itself.
func (s *Server) udpSocket(laddr net.Addr) *udpSocket {
	for _, u := range s.udp {
		if u.laddr == laddr {
			return u
		}
	}
	return nil
}

// WriteTo sends b as one datagram (rawWriter: a recorded response goes out
// as the bytes it was).
func (u *udpSocket) WriteTo(b []byte, to net.Addr) (int, error) {
	return u.pc.WriteTo(b, to)
}

// WriteMsg sends msg to its destination, an IP address and port (the
// request's source: nothing in the request picks it).
func (u *udpSocket) WriteMsg(msg sip.Message) error {
	to, err := netip.ParseAddrPort(msg.Destination())
	if err != nil {
		return fmt.Errorf("udp %s: destination %q: %w", u.laddr, msg.Destination(), err)
	}
	return u.write(msg, net.UDPAddrFromAddrPort(to))
}

func (u *udpSocket) write(msg sip.Message, to net.Addr) error {
	buf := serialize(msg)
	defer releaseSerialized(buf)
	if buf.Len() > sip.UDPMTUSize-200 {
		return sip.ErrUDPMTUCongestion // as sipgo's UDP connection refuses it
	}
	if _, err := u.pc.WriteTo(buf.Bytes(), to); err != nil {
		return fmt.Errorf("udp %s: %w", u.laddr, err)
	}
	return nil
}

// The rest of sip.Connection: the listener is closed by Run, not by a
// transaction letting go of it.

func (u *udpSocket) LocalAddr() net.Addr    { return u.laddr }
func (u *udpSocket) Ref(int) int            { return 1 }
func (u *udpSocket) TryClose() (int, error) { return 1, nil }
func (u *udpSocket) Close() error           { return nil }

// statelessTx is the transaction of a request the pre-filter handles: no
// state, no timers. Each response is one datagram back to the request's
// source address (never where its Via points); guardTx (flood.go) records
// an admitted request's final for retransmissions through Connection.
type statelessTx struct {
	sock *udpSocket
	to   net.Addr
}

// Respond writes res to the request's source.
func (t *statelessTx) Respond(res *sip.Response) error { return t.sock.write(res, t.to) }

// Connection is the listener the request came in on.
func (t *statelessTx) Connection() sip.Connection { return t.sock }

// The rest of sip.ServerTransaction: a transaction that has already ended.

func (t *statelessTx) Terminate()                         {}
func (t *statelessTx) OnTerminate(sip.FnTxTerminate) bool { return false }
func (t *statelessTx) Done() <-chan struct{}              { return closedDone }
func (t *statelessTx) Err() error                         { return nil }
func (t *statelessTx) Acks() <-chan *sip.Request          { return nil }
func (t *statelessTx) OnCancel(sip.FnTxCancel) bool       { return false }

var closedDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
