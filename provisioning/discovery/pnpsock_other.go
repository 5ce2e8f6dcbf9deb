//go:build !linux

package discovery

import (
	"errors"
	"fmt"
	"net"
)

// listenGroup needs Linux socket options (a bind to the group address with
// IP_MULTICAST_ALL); deskgate ships for Debian only.
func listenGroup(group *net.UDPAddr, _ []net.Interface) (net.PacketConn, error) {
	return nil, fmt.Errorf("pnp group %s: %w", group, errors.ErrUnsupported)
}
