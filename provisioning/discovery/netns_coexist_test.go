//go:build linux

package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"syscall"
	"time"
)

// sipListenConfig is how the SIP server's UDP socket must be opened to share
// port 5060 with the PnP socket: SO_REUSEADDR, and IP_MULTICAST_ALL=0 so the
// wildcard socket does not also receive the PnP group's datagrams (Linux
// delivers multicast to every wildcard socket on the port otherwise).
func sipListenConfig(multicastAll bool) net.ListenConfig {
	return net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
			if serr == nil && !multicastAll {
				serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipMulticastAll, 0)
			}
		})
		return errors.Join(err, serr)
	}}
}

// roleCoexist runs in a namespace whose lo carries multicast.
func roleCoexist(ctx context.Context, log *slog.Logger) error {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return err
	}
	for _, check := range []struct {
		name string
		f    func(context.Context, net.Interface) error
	}{
		{"sip socket first", coexistSIPFirst},
		{"pnp socket first", coexistPnPFirst},
		{"sip socket without SO_REUSEADDR", coexistNoReuse},
	} {
		if err := check.f(ctx, *lo); err != nil {
			return fmt.Errorf("%s: %w", check.name, err)
		}
		log.Info("coexist check passed", "check", check.name)
	}
	return nil
}

// coexistSIPFirst: SIP server on 0.0.0.0:5060 (SO_REUSEADDR), then PnP.
// Unicast goes to the SIP socket only; the group datagram reaches PnP, and
// the SIP socket too unless it set IP_MULTICAST_ALL=0.
func coexistSIPFirst(ctx context.Context, lo net.Interface) error {
	for _, mcAll := range []bool{true, false} {
		lc := sipListenConfig(mcAll)
		sipConn, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:5060")
		if err != nil {
			return err
		}
		pnp, err := listenGroup(&net.UDPAddr{IP: net.IPv4(224, 0, 1, 75), Port: 5060}, []net.Interface{lo})
		if err != nil {
			sipConn.Close()
			return err
		}
		err = expectDelivery(sipConn, pnp, mcAll)
		sipConn.Close()
		pnp.Close()
		if err != nil {
			return fmt.Errorf("IP_MULTICAST_ALL=%v on the sip socket: %w", mcAll, err)
		}
	}
	return nil
}

// coexistPnPFirst: the other bind order works too.
func coexistPnPFirst(ctx context.Context, lo net.Interface) error {
	pnp, err := listenGroup(&net.UDPAddr{IP: net.IPv4(224, 0, 1, 75), Port: 5060}, []net.Interface{lo})
	if err != nil {
		return err
	}
	defer pnp.Close()
	lc := sipListenConfig(false)
	sipConn, err := lc.ListenPacket(ctx, "udp4", "0.0.0.0:5060")
	if err != nil {
		return err
	}
	defer sipConn.Close()
	return expectDelivery(sipConn, pnp, false)
}

// coexistNoReuse: a SIP socket opened like net.ListenPacket does (no
// SO_REUSEADDR) makes the PnP bind fail with EADDRINUSE and a hint.
func coexistNoReuse(_ context.Context, lo net.Interface) error {
	sipConn, err := net.ListenPacket("udp4", "0.0.0.0:5061")
	if err != nil {
		return err
	}
	defer sipConn.Close()
	pnp, err := listenGroup(&net.UDPAddr{IP: net.IPv4(224, 0, 1, 75), Port: 5061}, []net.Interface{lo})
	if err == nil {
		pnp.Close()
		return errors.New("pnp socket bound next to a SIP socket without SO_REUSEADDR")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("want EADDRINUSE, got %w", err)
	}
	return nil
}

// expectDelivery sends one unicast datagram to 127.0.0.1:5060 and one to
// the group, and checks who gets what.
func expectDelivery(sipConn, pnp net.PacketConn, sipGetsMulticast bool) error {
	send := func(to string, payload string) error {
		c, err := net.Dial("udp4", to)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte(payload))
		return err
	}
	if err := send("127.0.0.1:5060", "unicast"); err != nil {
		return err
	}
	if got := readAll(sipConn); !slices.Equal(got, []string{"unicast"}) {
		return fmt.Errorf("sip socket got %q, want the unicast datagram", got)
	}
	if err := send("224.0.1.75:5060", "multicast"); err != nil {
		return err
	}
	if got := readAll(pnp); !slices.Equal(got, []string{"multicast"}) {
		return fmt.Errorf("pnp socket got %q, want only the multicast datagram", got)
	}
	want := []string{}
	if sipGetsMulticast {
		want = []string{"multicast"}
	}
	if got := readAll(sipConn); !slices.Equal(got, want) {
		return fmt.Errorf("sip socket got %q after the multicast, want %q", got, want)
	}
	return nil
}

// readAll returns every datagram that arrives within 300ms.
func readAll(c net.PacketConn) []string {
	var out []string
	buf := make([]byte, 1500)
	for {
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			return out
		}
		out = append(out, string(buf[:n]))
	}
}
