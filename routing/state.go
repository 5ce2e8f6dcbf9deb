package routing

import (
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/store"
	"deskgate/routing/ringplan"
)

// routeState serves ringplan.State for one call: contacts from the binding
// table, DND and away from the store's presence records.
type routeState struct {
	b   *bindings
	db  *store.DB
	now time.Time
	log *slog.Logger
}

func (r *routeState) presence(user string) store.Presence {
	p, err := r.db.Presence(user)
	if err != nil {
		// Ring rather than silence a phone because the store hiccuped.
		r.log.Error("read presence", "user", user, "error", err)
		return store.Presence{User: user}
	}
	return p
}

func (r *routeState) DND(user string) bool { return r.presence(user).DND }

func (r *routeState) Away(user, dept string) bool { return r.presence(user).AwayFrom(dept) }

func (r *routeState) Contacts(user string) []ringplan.Contact {
	bs := r.b.get(user, r.now)
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
