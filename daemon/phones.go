package daemon

import (
	"net/http"
	"net/netip"
	"sort"
	"strings"

	"deskgate/daemon/controlapi"
	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/provisioning"
	"deskgate/routing"
)

// handlePhones lists the directory's phones and every phone seen on the LAN
// (mDNS, SIP PnP, provisioning requests), so IT can spot phones to add.
func (d *Daemon) handlePhones(*http.Request) (any, error) {
	inv, err := d.db.Inventory()
	if err != nil {
		return nil, err
	}
	return phoneRows(d.snapshot(), inv, d.sip.Registrations()), nil
}

func phoneRows(snap *directory.Snapshot, inv []store.InventoryPhone, regs []routing.Registration) []controlapi.Phone {
	seen := make(map[string]store.InventoryPhone, len(inv))
	for _, p := range inv {
		seen[p.MAC] = p
	}
	var rows []controlapi.Phone
	for _, p := range snap.Phones() {
		row := controlapi.Phone{MAC: p.MAC, User: p.User, Vendor: directory.Vendor(p.Model), Model: p.Model, Configured: true,
			Warnings: provisioning.Warnings(snap, p.MAC)}
		if s, ok := seen[p.MAC]; ok {
			row.Discovered, row.Address, row.LastSeen = true, s.Address, s.LastSeen
			delete(seen, p.MAC)
		}
		row.Registered = registered(row, regs)
		rows = append(rows, row)
	}
	for _, s := range seen {
		rows = append(rows, controlapi.Phone{MAC: s.MAC, Vendor: s.Vendor, Model: s.Model, Discovered: true,
			Address: s.Address, LastSeen: s.LastSeen})
	}
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Configured != rows[j].Configured {
			return rows[i].Configured
		}
		return rows[i].MAC < rows[j].MAC
	})
	return rows
}

// registered reports whether one of the user's bindings is this phone: its
// User-Agent carries the MAC (Yealink, Grandstream, Fanvil, Cisco do), or it
// registered from the address the phone was last seen at.
func registered(p controlapi.Phone, regs []routing.Registration) bool {
	hex := strings.ReplaceAll(p.MAC, ":", "")
	ip := hostOf(p.Address)
	for _, r := range regs {
		if r.User != p.User {
			continue
		}
		ua := strings.ToLower(strings.NewReplacer(":", "", "-", "", ".", "").Replace(r.UserAgent))
		if strings.Contains(ua, hex) || (ip.IsValid() && hostOf(r.Source) == ip) {
			return true
		}
	}
	return false
}

func hostOf(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}
