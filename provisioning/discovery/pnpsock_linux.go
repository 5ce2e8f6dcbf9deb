package discovery

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// ipMulticastAll is IP_MULTICAST_ALL from <linux/in.h>; the syscall package
// does not export it.
const ipMulticastAll = 49

// listenGroup opens the PnP socket for an IPv4 multicast group.
//
// It is bound to group:port, not to 0.0.0.0:port: Go's net package always
// rewrites a multicast bind to the wildcard (net/sock_posix.go), and a
// wildcard socket on 5060 with SO_REUSEADDR would take unicast SIP traffic
// from the SIP server's own 0.0.0.0:5060 socket (Linux hands a unicast
// datagram to one matching socket only, the most recently bound one). A
// socket bound to the group address only ever matches datagrams sent to the
// group, so it coexists with the SIP listener as long as that one also sets
// SO_REUSEADDR (or both SO_REUSEPORT). IP_MULTICAST_ALL=0 limits it to the
// interfaces it joined.
func listenGroup(group *net.UDPAddr, ifaces []net.Interface) (net.PacketConn, error) {
	ip4 := group.IP.To4()
	if ip4 == nil {
		return nil, fmt.Errorf("pnp group %s: only IPv4 is supported", group.IP)
	}
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC|syscall.SOCK_NONBLOCK, syscall.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("pnp socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "sip-pnp")
	defer f.Close() // FilePacketConn dups the descriptor
	opts := []struct {
		level, opt, val int
		name            string
	}{
		{syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1, "SO_REUSEADDR"},
		{syscall.SOL_SOCKET, soReusePort, 1, "SO_REUSEPORT"},
		{syscall.IPPROTO_IP, ipMulticastAll, 0, "IP_MULTICAST_ALL"},
	}
	for _, o := range opts {
		if err := syscall.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return nil, fmt.Errorf("pnp socket %s: %w", o.name, err)
		}
	}
	sa := &syscall.SockaddrInet4{Port: group.Port}
	copy(sa.Addr[:], ip4)
	if err := syscall.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind pnp socket %s (the SIP listener on that port must set SO_REUSEADDR): %w", group, err)
	}
	for _, ifi := range ifaces {
		mreq := &syscall.IPMreqn{Ifindex: int32(ifi.Index)}
		copy(mreq.Multiaddr[:], ip4)
		if err := syscall.SetsockoptIPMreqn(fd, syscall.IPPROTO_IP, syscall.IP_ADD_MEMBERSHIP, mreq); err != nil {
			return nil, fmt.Errorf("join %s on %s: %w", group.IP, ifi.Name, err)
		}
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("pnp socket: %w", err)
	}
	return pc, nil
}
