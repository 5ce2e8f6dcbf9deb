package routing

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// self knows which addresses are ours: requests addressed to the domain, a
// listen address or the advertised address are for us (docs/spec.md §4).
type self struct {
	domain    string // lower case
	advHost   string // lower case, "" = none
	advPort   int    // 0 = the listener's port
	listeners []listenSpec
	local     []netip.Addr // interface addresses, for wildcard listeners
}

// isMe reports whether a URI designates us.
func (m *self) isMe(u sip.Uri) bool {
	return m.isMeHostPort(u.Host, u.Port)
}

func (m *self) isMeHostPort(host string, port int) bool {
	host = strings.ToLower(strings.Trim(host, "[]"))
	if host == "" {
		return false
	}
	if host == m.domain {
		return true
	}
	if m.advHost != "" && host == m.advHost {
		return port == 0 || port == m.advPort || m.hasPort(port)
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, l := range m.listeners {
		if port != 0 && port != int(l.addr.Port()) {
			continue
		}
		if port == 0 && l.addr.Port() != 5060 {
			continue
		}
		if l.addr.Addr() == ip || (l.addr.Addr().IsUnspecified() && m.isLocal(ip)) {
			return true
		}
	}
	return false
}

func (m *self) hasPort(port int) bool {
	for _, l := range m.listeners {
		if int(l.addr.Port()) == port {
			return true
		}
	}
	return false
}

func (m *self) isLocal(ip netip.Addr) bool {
	for _, a := range m.local {
		if a == ip {
			return true
		}
	}
	return false
}

// viaIsMe reports whether a Via sent-by is one of our listeners: a request
// carrying it has been through us already (loop, RFC 3261 §16.3 step 4).
func (m *self) viaIsMe(v *sip.ViaHeader) bool {
	if v == nil || v.Port == 0 {
		return false
	}
	host := strings.ToLower(strings.Trim(v.Host, "[]"))
	if host == m.domain {
		return false // a domain in Via is a phone's choice, not ours
	}
	return m.isMeHostPort(host, v.Port)
}

// listener returns the first listener of a transport ("udp"/"tcp").
func (m *self) listener(network string) (listenSpec, bool) {
	network = strings.ToLower(network)
	for _, l := range m.listeners {
		if l.network == network {
			return l, true
		}
	}
	return listenSpec{}, false
}

// hostPort is what we put in Via and Record-Route for a transport: the
// advertised address, or the listener's (a wildcard replaced by a guess).
func (m *self) hostPort(network string) (string, int, bool) {
	l, ok := m.listener(network)
	if !ok {
		return "", 0, false
	}
	host := m.advHost
	if host == "" {
		ip := l.addr.Addr()
		if ip.IsUnspecified() {
			ip = guessHost(m.local, ip.Is4())
		}
		host = ip.String()
		if ip.Is6() {
			host = "[" + host + "]"
		}
	}
	port := m.advPort
	if port == 0 {
		port = int(l.addr.Port())
	}
	return host, port, true
}

// parseAdvertise splits "host" or "host:port".
func parseAdvertise(s string) (string, int) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", 0
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return strings.ToLower(ap.Addr().String()), int(ap.Port())
	}
	if i := strings.LastIndexByte(s, ':'); i > 0 && !strings.Contains(s[:i], ":") {
		if p, err := strconv.Atoi(s[i+1:]); err == nil && p > 0 && p < 65536 {
			return strings.ToLower(s[:i]), p
		}
	}
	return strings.ToLower(strings.Trim(s, "[]")), 0
}
