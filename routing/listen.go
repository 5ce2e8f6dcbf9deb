package routing

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// listenSpec is one parsed sip.listen entry.
type listenSpec struct {
	network string // "udp" or "tcp"
	addr    netip.AddrPort
}

func (l listenSpec) String() string { return l.network + ":" + l.addr.String() }

// parseListen parses "udp:127.0.0.1:5060", "tcp:[::1]:5060". Hosts must be
// IP literals: a listener is a socket, and P3 needs the exact address.
func parseListen(s string) (listenSpec, error) {
	network, hostport, ok := strings.Cut(strings.TrimSpace(s), ":")
	if !ok {
		return listenSpec{}, fmt.Errorf("listen %q: want udp:IP:PORT or tcp:IP:PORT", s)
	}
	network = strings.ToLower(network)
	if network != "udp" && network != "tcp" {
		return listenSpec{}, fmt.Errorf("listen %q: transport %q not supported (udp, tcp)", s, network)
	}
	ap, err := netip.ParseAddrPort(hostport)
	if err != nil {
		return listenSpec{}, fmt.Errorf("listen %q: %w", s, err)
	}
	return listenSpec{network: network, addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}, nil
}

// boundListener is an open socket for one listen entry.
type boundListener struct {
	spec listenSpec // with the port actually bound
	pc   net.PacketConn
	ln   net.Listener
}

func (b boundListener) close() {
	if b.pc != nil {
		_ = b.pc.Close()
	}
	if b.ln != nil {
		_ = b.ln.Close()
	}
}

// bind opens the socket. A wildcard IPv4 address is bound as udp4/tcp4 so
// the socket's local address (sipgo's connection pool key) is 0.0.0.0:port,
// which is what the Laddr of outgoing requests names (docs/libraries.md P3).
func bind(spec listenSpec) (boundListener, error) {
	family := ""
	if spec.addr.Addr().Is4() {
		family = "4"
	} else {
		family = "6"
	}
	addr := spec.addr.String()
	switch spec.network {
	case "udp":
		lc := udpListenConfig(family)
		pc, err := lc.ListenPacket(context.Background(), "udp"+family, addr)
		if err != nil {
			return boundListener{}, fmt.Errorf("listen %s: %w", spec, err)
		}
		spec.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
		return boundListener{spec: normalizeSpec(spec), pc: pc}, nil
	default:
		ln, err := net.Listen("tcp"+family, addr)
		if err != nil {
			return boundListener{}, fmt.Errorf("listen %s: %w", spec, err)
		}
		spec.addr = ln.Addr().(*net.TCPAddr).AddrPort()
		return boundListener{spec: normalizeSpec(spec), ln: retryListener{ln}}, nil
	}
}

func normalizeSpec(s listenSpec) listenSpec {
	s.addr = netip.AddrPortFrom(s.addr.Addr().Unmap(), s.addr.Port())
	return s
}

// localIPs lists the host's interface addresses, for recognising requests
// addressed to a wildcard listener.
func localIPs() []netip.Addr {
	out := []netip.Addr{netip.MustParseAddr("127.0.0.1"), netip.IPv6Loopback()}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return out
	}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			out = append(out, p.Addr().Unmap())
		}
	}
	return out
}

// guessHost picks an address to put in Via and Record-Route when a
// listener is a wildcard and no advertise address is configured: the first
// global unicast interface address, else loopback.
func guessHost(ips []netip.Addr, v4 bool) netip.Addr {
	for _, ip := range ips {
		if ip.IsGlobalUnicast() && ip.Is4() == v4 {
			return ip
		}
	}
	if v4 {
		return netip.MustParseAddr("127.0.0.1")
	}
	return netip.IPv6Loopback()
}

// retryListener keeps accepting after transient errors (EMFILE, aborted
// handshakes): sipgo's TCP transport returns on the first Accept error,
// which would take the whole TCP listener down.
type retryListener struct {
	net.Listener
}

func (l retryListener) Accept() (net.Conn, error) {
	delay := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil || errors.Is(err, net.ErrClosed) {
			return c, err
		}
		time.Sleep(delay)
		delay = min(2*delay, time.Second)
	}
}

// ipMulticastAll is IP_MULTICAST_ALL from <linux/in.h> (syscall lacks it).
const ipMulticastAll = 49

// udpListenConfig lets the SIP PnP responder (provisioning/discovery) bind
// 224.0.1.75:5060 beside our 5060 socket (SO_REUSEADDR), and keeps the
// multicast PnP SUBSCRIBEs it joins for off our socket (IP_MULTICAST_ALL=0),
// so phones get one answer, the responder's.
func udpListenConfig(family string) net.ListenConfig {
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil && family == "4" {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipMulticastAll, 0)
			}
		})
		return errors.Join(err, serr)
	}}
}
