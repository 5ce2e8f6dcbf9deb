package routing

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// trunkAddrsTTL is how long the trunk host's resolved addresses are used
// before they are looked up again (also after a failed lookup, so a dead
// resolver costs one lookup per TTL, not one per request).
const (
	trunkAddrsTTL     = 5 * time.Minute
	trunkAddrsTimeout = 2 * time.Second
)

// trunkAddrs knows the IP addresses of the configured trunk.address, so a
// request the trunk sends from there is recognised as the trunk's inside a
// dialog made with it, even when trunk.trusted is empty (an outbound-only
// trunk). Only the configured name is ever resolved, never a name taken
// from a request.
type trunkAddrs struct {
	host string // trunk.address without the port; "" = no trunk

	mu    sync.Mutex
	ips   []netip.Addr
	until time.Time
}

func newTrunkAddrs(address string) *trunkAddrs {
	if address == "" {
		return &trunkAddrs{}
	}
	host, _, err := splitHostPort(address)
	if err != nil {
		return &trunkAddrs{}
	}
	return &trunkAddrs{host: host}
}

// has reports whether ip is one of the trunk's addresses.
func (t *trunkAddrs) has(ctx context.Context, ip netip.Addr, now time.Time) bool {
	if t == nil || t.host == "" {
		return false
	}
	if a, err := netip.ParseAddr(t.host); err == nil {
		return a.Unmap() == ip
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if now.After(t.until) {
		lctx, cancel := context.WithTimeout(ctx, trunkAddrsTimeout)
		ips, err := net.DefaultResolver.LookupNetIP(lctx, "ip", t.host)
		cancel()
		if err == nil {
			t.ips = t.ips[:0]
			for _, a := range ips {
				t.ips = append(t.ips, a.Unmap())
			}
		}
		t.until = now.Add(trunkAddrsTTL)
	}
	return slices.Contains(t.ips, ip)
}
