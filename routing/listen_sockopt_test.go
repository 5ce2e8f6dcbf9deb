package routing

import (
	"net"
	"net/netip"
	"syscall"
	"testing"
)

// The SIP UDP socket must let the PnP responder share its port and must not
// receive the multicast PnP SUBSCRIBEs (see udpListenConfig).
func TestUDPSocketOptions(t *testing.T) {
	bl, err := bind(listenSpec{network: "udp", addr: netip.MustParseAddrPort("127.0.0.1:0")})
	if err != nil {
		t.Fatal(err)
	}
	defer bl.pc.Close()
	rc, err := bl.pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var reuse, mcAll int
	var gerr error
	rc.Control(func(fd uintptr) {
		reuse, gerr = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR)
		if gerr == nil {
			mcAll, gerr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, ipMulticastAll)
		}
	})
	if gerr != nil {
		t.Fatal(gerr)
	}
	if reuse != 1 || mcAll != 0 {
		t.Errorf("SO_REUSEADDR=%d IP_MULTICAST_ALL=%d, want 1 and 0", reuse, mcAll)
	}
}
