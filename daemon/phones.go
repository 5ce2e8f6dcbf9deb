package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"sort"
	"time"

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
	sbs, err := d.db.SecretBindings()
	if err != nil {
		return nil, err
	}
	return phoneRows(d.snapshot(), inv, d.sip.Registrations(), sbs), nil
}

func phoneRows(snap *directory.Snapshot, inv []store.InventoryPhone, regs []routing.Registration, sbs []store.SecretBinding) []controlapi.Phone {
	seen := make(map[string]store.InventoryPhone, len(inv))
	for _, p := range inv {
		seen[p.MAC] = p
	}
	secrets := make(map[string]store.SecretBinding, len(sbs))
	for _, sb := range sbs {
		secrets[sb.MAC] = sb
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
		row.Secrets, row.SecretsAlert = "armed", ""
		if sb, ok := secrets[p.MAC]; ok {
			if sb.Address != "" {
				row.Secrets = "bound " + sb.Address
			}
			row.SecretsAlert = sb.Alert
		}
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
// User-Agent or +sip.instance names the MAC (the same test check-sync uses),
// or it registered from the address the phone was last seen at.
func registered(p controlapi.Phone, regs []routing.Registration) bool {
	ip := hostOf(p.Address)
	for _, r := range regs {
		if r.User != p.User {
			continue
		}
		if directory.MACIn(r.UserAgent, p.MAC) || directory.MACIn(r.InstanceID, p.MAC) ||
			(ip.IsValid() && hostOf(r.Source) == ip) {
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

// handleRearm re-arms a phone's provisioning secrets (deskgatectl rearm):
// the next fetch of its file binds them to its source address, or, with an
// address in the body, they are bound to that address at once. Either way
// the phone's alert is cleared: IT has looked at it. A re-armed phone that
// is registered is sent check-sync, so it fetches (and binds) at once.
func (d *Daemon) handleRearm(r *http.Request) (any, error) {
	mac, err := directory.NormalizeMAC(r.PathValue("mac"))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "%v", err)
	}
	if _, ok := d.snapshot().Phone(mac); !ok {
		return nil, errorf(http.StatusNotFound, "phone %s is not in the directory", mac)
	}
	var req controlapi.Rearm
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		return nil, errorf(http.StatusBadRequest, "read request: %v", err)
	}
	var addr netip.Addr
	if req.Address != "" {
		if addr, err = netip.ParseAddr(req.Address); err != nil {
			return nil, errorf(http.StatusBadRequest, "address %q is not an IP address", req.Address)
		}
		addr = addr.Unmap()
	}
	now := time.Now().UTC()
	_, err = d.db.UpdateSecretBinding(mac, func(cur store.SecretBinding, _ bool) (store.SecretBinding, bool) {
		prev := cur.Address
		if prev == "" {
			prev = cur.Previous
		}
		if addr.IsValid() {
			return store.SecretBinding{Address: addr.String(), BoundAt: now, BoundBy: "operator", Previous: prev}, true
		}
		return store.SecretBinding{Previous: prev, ArmedAt: now}, true
	})
	if err != nil {
		return nil, err
	}
	if addr.IsValid() {
		d.log.Info("provisioning secrets bound by operator", "mac", mac, "addr", addr.String())
	} else {
		d.log.Info("provisioning secrets re-armed", "mac", mac)
		d.sip.CheckSync(context.WithoutCancel(r.Context()), []string{mac})
	}
	rows, err := d.handlePhones(r)
	if err != nil {
		return nil, err
	}
	for _, row := range rows.([]controlapi.Phone) {
		if row.MAC == mac {
			return row, nil
		}
	}
	return nil, errorf(http.StatusNotFound, "phone %s is not in the directory", mac)
}

// provisioningAlerts lists the phones' secret alerts for status.
func (d *Daemon) provisioningAlerts() []string {
	sbs, err := d.db.SecretBindings()
	if err != nil {
		return []string{"cannot read provisioning secret bindings: " + err.Error()}
	}
	var out []string
	for _, sb := range sbs {
		if sb.Alert != "" {
			out = append(out, fmt.Sprintf("%s: %s (%s)", sb.MAC, sb.Alert, sb.AlertAt.UTC().Format(time.RFC3339)))
		}
	}
	return out
}
