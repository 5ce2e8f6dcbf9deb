package routing

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TCPLimits bound what inbound TCP connections may hold. Zero fields take
// the defaults noted (docs/decisions.md explains the numbers).
type TCPLimits struct {
	MaxConns          int           // open inbound connections in all; default 1024
	MaxConnsPerSource int           // open inbound connections per source IP; default 32
	IdleTimeout       time.Duration // no complete message and no live binding; default 60s
	MessageTimeout    time.Duration // first byte of a message to its last; default 10s
	MaxMessageBytes   int           // bytes of one message in progress; default 16 KiB
	WriteTimeout      time.Duration // one write to a peer that does not read; default 10s
}

func (l TCPLimits) withDefaults() TCPLimits {
	if l.MaxConns <= 0 {
		l.MaxConns = 1024
	}
	if l.MaxConnsPerSource <= 0 {
		l.MaxConnsPerSource = 32
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = 60 * time.Second
	}
	if l.MessageTimeout <= 0 {
		l.MessageTimeout = 10 * time.Second
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 16 << 10
	}
	if l.WriteTimeout <= 0 {
		l.WriteTimeout = 10 * time.Second
	}
	return l
}

// readChunk bounds one read, so the bytes of a message in progress are
// counted to within one chunk (sipgo's own buffer is 32 KiB).
const readChunk = 4096

// tombstoneTTL (docs/libraries.md P10) is how long a closed connection that delivered requests
// keeps its place in sipgo's connection pool: the life of a server
// transaction (64×T1), longer than any handler needs to look it up.
var tombstoneTTL = 64 * sip.T1

// connGuard admits, watches and reaps the inbound TCP connections sipgo
// serves. It wraps the listener sipgo accepts from and every connection it
// hands out; sipgo reports each parsed message back (onMessage), which is
// how a message's end is known without parsing SIP twice.
//
// Reaping: a connection is closed when a started message is not finished
// within MessageTimeout, when it grows past MaxMessageBytes, or when
// IdleTimeout passes without a complete message and keep (the registrar)
// says no live binding uses it. CRLF keep-alives do not count as messages:
// they keep a phone's NAT open, the binding keeps its connection.
//
// Responses never dial: when a connection that delivered requests closes,
// a tombstone (a Connection whose writes fail) takes its key in sipgo's
// pool, so a transaction created afterwards for one of its requests finds
// it instead of falling back to a new connection to the Via's sent-by.
type connGuard struct {
	lim  TCPLimits
	log  *slog.Logger
	keep func(remote string) bool // a live binding came over this connection

	pool atomic.Pointer[sip.ConnectionPool] // sipgo's TCP pool, for tombstones

	mu       sync.Mutex
	closed   bool // server stopping: no tombstones
	conns    map[string]*guardConn
	perSrc   map[netip.Addr]int
	refused  int64
	reaped   map[string]int64 // by reason
	lastWarn time.Time
}

// Reap reasons, also log values.
const (
	reapIdle    = "idle"
	reapSlow    = "message timeout"
	reapTooLong = "message too large"
)

func newConnGuard(lim TCPLimits, log *slog.Logger, keep func(string) bool) *connGuard {
	return &connGuard{lim: lim.withDefaults(), log: log, keep: keep,
		conns: map[string]*guardConn{}, perSrc: map[netip.Addr]int{}, reaped: map[string]int64{}}
}

// attach connects the guard to the sipgo stack: message ends and the pool.
func (g *connGuard) attach(tl *sip.TransportLayer) {
	g.pool.Store(tl.Pool("tcp"))
	tl.OnMessage(g.onMessage)
}

// stop marks the server as stopping.
func (g *connGuard) stop() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// listener wraps ln (the socket sipgo's TCP transport serves).
func (g *connGuard) listener(ln net.Listener) net.Listener {
	return guardListener{Listener: ln, g: g}
}

type guardListener struct {
	net.Listener
	g *connGuard
}

// Accept returns the next connection within the caps; others are closed
// at once.
func (l guardListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return c, err
		}
		if gc := l.g.admit(c); gc != nil {
			return gc, nil
		}
		_ = c.Close()
	}
}

func (g *connGuard) admit(c net.Conn) *guardConn {
	src := addrOf(c.RemoteAddr())
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.conns) >= g.lim.MaxConns || g.perSrc[src] >= g.lim.MaxConnsPerSource {
		g.refused++
		if now := time.Now(); now.Sub(g.lastWarn) >= 10*time.Second {
			g.lastWarn = now
			g.log.Warn("tcp connection refused: too many connections", "source", src,
				"from_source", g.perSrc[src], "open", len(g.conns), "refused_total", g.refused)
		}
		return nil
	}
	now := time.Now()
	gc := &guardConn{Conn: c, g: g, remote: c.RemoteAddr().String(), src: src, lastMsg: now}
	g.conns[gc.remote] = gc
	g.perSrc[src]++
	return gc
}

func (g *connGuard) release(c *guardConn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns[c.remote] != c {
		return
	}
	delete(g.conns, c.remote)
	if g.perSrc[c.src]--; g.perSrc[c.src] <= 0 {
		delete(g.perSrc, c.src)
	}
}

// onMessage runs in the connection's reader goroutine right after sipgo
// parsed a message from it: the message is complete.
func (g *connGuard) onMessage(m sip.Message) {
	if m.Transport() != "TCP" {
		return
	}
	g.mu.Lock()
	c := g.conns[m.Source()]
	g.mu.Unlock()
	if c == nil {
		return
	}
	_, isReq := m.(*sip.Request)
	c.messageDone(time.Now(), isReq)
}

// tcpStats is a snapshot of the guard's counters.
type tcpStats struct {
	Open    int
	Refused int64
	Reaped  map[string]int64
}

func (g *connGuard) stats() tcpStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	st := tcpStats{Open: len(g.conns), Refused: g.refused, Reaped: map[string]int64{}}
	for k, v := range g.reaped {
		st.Reaped[k] = v
	}
	return st
}

func (g *connGuard) reap(c *guardConn, reason string) {
	g.mu.Lock()
	g.reaped[reason]++
	g.mu.Unlock()
	g.log.Debug("tcp connection closed", "reason", reason, "source", c.remote)
}

// entomb puts a tombstone at remote in sipgo's pool when the connection
// delivered a request recently (see connGuard).
func (g *connGuard) entomb(c *guardConn) {
	c.mu.Lock()
	last := c.lastReq
	c.mu.Unlock()
	pool := g.pool.Load()
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if pool == nil || closed || last.IsZero() || time.Since(last) > tombstoneTTL {
		return
	}
	t := &sip.TCPConnection{Conn: deadConn{laddr: c.LocalAddr(), raddr: c.RemoteAddr()}}
	pool.Add(c.remote, t)
	time.AfterFunc(tombstoneTTL, func() { _ = pool.CloseAndDelete(t, c.remote) })
}

// guardConn is one inbound connection as sipgo sees it.
type guardConn struct {
	net.Conn
	g      *connGuard
	remote string
	src    netip.Addr

	// Touched by the reader goroutine (Read, messageDone); mu for stats
	// and entomb, which may run elsewhere.
	mu      sync.Mutex
	pending int       // bytes of the message in progress
	started time.Time // its first byte
	lastMsg time.Time // last complete message (or accept)
	lastReq time.Time // last complete request

	done      atomic.Bool
	closeOnce sync.Once
}

func (c *guardConn) messageDone(now time.Time, isReq bool) {
	c.mu.Lock()
	c.pending = 0
	c.lastMsg = now
	if isReq {
		c.lastReq = now
	}
	c.mu.Unlock()
}

// Read is sipgo's only read on the connection: it applies the deadlines
// and the size cap, and ends the connection by returning io.EOF (which
// sipgo treats as a normal close).
func (c *guardConn) Read(b []byte) (int, error) {
	if len(b) > readChunk {
		b = b[:readChunk]
	}
	lim := c.g.lim
	for {
		if c.done.Load() {
			return 0, net.ErrClosed
		}
		c.mu.Lock()
		pending := c.pending > 0
		deadline := c.lastMsg.Add(lim.IdleTimeout)
		if pending {
			deadline = c.started.Add(lim.MessageTimeout)
		}
		c.mu.Unlock()
		if err := c.Conn.SetReadDeadline(deadline); err != nil {
			return 0, c.end(err, "")
		}
		n, err := c.Conn.Read(b)
		if n > 0 {
			if reason := c.account(b[:n]); reason != "" {
				return 0, c.end(io.EOF, reason)
			}
			return n, nil
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			if pending {
				return 0, c.end(io.EOF, reapSlow)
			}
			if c.g.keep != nil && c.g.keep(c.remote) {
				c.mu.Lock()
				c.lastMsg = time.Now() // look again after another idle period
				c.mu.Unlock()
				continue
			}
			return 0, c.end(io.EOF, reapIdle)
		}
		if err == nil {
			continue // a zero-byte read
		}
		return 0, c.end(err, "")
	}
}

// account counts bytes read into the message in progress; CRLFs between
// messages are keep-alives, not a message.
func (c *guardConn) account(data []byte) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == 0 {
		if len(bytes.Trim(data, "\r\n")) == 0 {
			return ""
		}
		c.started = time.Now()
	}
	c.pending += len(data)
	if c.pending > c.g.lim.MaxMessageBytes {
		return reapTooLong
	}
	return ""
}

// end finishes the connection on the way out of Read: the tombstone goes in
// before sipgo drops the pool entry (it leaves a replacement in place), the
// socket closes and the caps forget it.
func (c *guardConn) end(err error, reason string) error {
	if reason != "" {
		c.g.reap(c, reason)
	}
	c.g.entomb(c)
	_ = c.Close()
	return err
}

func (c *guardConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.g.lim.WriteTimeout))
	return c.Conn.Write(b)
}

func (c *guardConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.done.Store(true)
		err = c.Conn.Close()
		c.g.release(c)
	})
	return err
}

// deadConn is the socket of a tombstone: a sip.TCPConnection (the type
// sipgo's TCP transport expects in its pool) over a connection that is
// gone, so every write fails and nothing is dialled.
type deadConn struct{ laddr, raddr net.Addr }

var errConnGone = errors.New("the request's connection is closed")

func (d deadConn) Read([]byte) (int, error)         { return 0, errConnGone }
func (d deadConn) Write([]byte) (int, error)        { return 0, errConnGone }
func (d deadConn) Close() error                     { return nil }
func (d deadConn) LocalAddr() net.Addr              { return d.laddr }
func (d deadConn) RemoteAddr() net.Addr             { return d.raddr }
func (d deadConn) SetDeadline(time.Time) error      { return nil }
func (d deadConn) SetReadDeadline(time.Time) error  { return nil }
func (d deadConn) SetWriteDeadline(time.Time) error { return nil }

func addrOf(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
