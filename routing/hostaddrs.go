package routing

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// How the addresses of configured host names are kept: looked up again
// after hostAddrsTTL (also after a failed lookup, so a dead resolver costs
// one lookup per name and TTL, not one per request), each lookup bounded.
const (
	hostAddrsTTL     = 5 * time.Minute
	hostAddrsTimeout = 2 * time.Second
	hostAddrsMax     = 256 // names kept; more and the cache starts over
)

// hostAddrs resolves the host names we chose to send to (trunk.address, a
// fallback URI's host recorded in a dialog token) so a request coming
// from one of them can be recognised. Names come only from configuration
// and the directory, never from a request.
type hostAddrs struct {
	mu sync.Mutex
	m  map[string]resolved
}

type resolved struct {
	ips   []netip.Addr
	until time.Time
}

// has reports whether ip is an address of host (an IP literal or a name).
func (h *hostAddrs) has(ctx context.Context, host string, ip netip.Addr, now time.Time) bool {
	if host == "" {
		return false
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap() == ip
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.m[host]
	if !ok || now.After(r.until) {
		if h.m == nil || len(h.m) >= hostAddrsMax {
			h.m = make(map[string]resolved)
		}
		r = resolved{ips: r.ips, until: now.Add(hostAddrsTTL)}
		lctx, cancel := context.WithTimeout(ctx, hostAddrsTimeout)
		ips, err := net.DefaultResolver.LookupNetIP(lctx, "ip", host)
		cancel()
		if err == nil {
			r.ips = make([]netip.Addr, 0, len(ips))
			for _, a := range ips {
				r.ips = append(r.ips, a.Unmap())
			}
		}
		h.m[host] = r
	}
	return slices.Contains(r.ips, ip)
}
