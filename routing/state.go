package routing

import (
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
	"deskgate/routing/presence"
	"deskgate/routing/registrar"
	"deskgate/routing/ringplan"
)

// routeState serves ringplan.State for one call: contacts from the binding
// table, DND and away from the presence service's in-memory state (the
// store's records, loaded at start and written through on every change).
type routeState struct {
	b   *registrar.Table
	p   *presence.Service
	now time.Time
}

func (r *routeState) DND(user string) bool { return r.p.DND(user) }

func (r *routeState) Away(user, dept string) bool { return r.p.Away(user, dept) }

func (r *routeState) Contacts(user string) []ringplan.Contact {
	bs := r.b.Get(user, r.now)
	out := make([]ringplan.Contact, 0, len(bs))
	for _, b := range bs {
		out = append(out, contactOf(b))
	}
	return out
}

// contactOf turns a binding into a ringplan contact. Transport is the
// Contact URI's transport parameter, else the one the REGISTER came over.
func contactOf(b store.Binding) ringplan.Contact {
	var u sip.Uri
	_ = sip.ParseUri(b.Contact, &u) // stored bindings were parsed at REGISTER
	transport := strings.ToLower(b.Transport)
	if t, ok := u.UriParams.Get("transport"); ok && t != "" {
		transport = strings.ToLower(t)
	}
	if transport == "" {
		transport = "udp"
	}
	return ringplan.Contact{User: b.User, URI: b.Contact, Source: sendTo(b, u, transport), Transport: transport}
}

// sendTo is where requests for a binding go. Over TCP: the connection the
// phone registered on (it may accept no other). Over UDP: the Contact when
// it names the very IP the REGISTER came from (a LAN phone, or a test phone
// registering for another process), else the source (NAT: RFC 3581).
func sendTo(b store.Binding, u sip.Uri, transport string) string {
	if transport != "udp" || b.Source == "" {
		return b.Source
	}
	src, err := netip.ParseAddrPort(b.Source)
	if err != nil {
		return b.Source
	}
	ip, err := netip.ParseAddr(strings.Trim(u.Host, "[]"))
	if err != nil || ip.Unmap() != src.Addr().Unmap() {
		return b.Source
	}
	port := u.Port
	if port == 0 {
		port = 5060
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)).String()
}
