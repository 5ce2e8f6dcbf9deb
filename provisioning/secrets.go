package provisioning

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// A phone's file with its SIP password goes only to the address the phone
// first fetched it from (trust on first fetch, bound per MAC). Later
// fetches from that address get the whole file, as phones re-fetch on
// check-sync, on a timer and after a factory reset; a request from any
// other address gets the same 404 as an unknown MAC and raises an alert,
// until office IT re-arms the phone (`deskgatectl rearm`). The reasons and
// the threat model are in docs/decisions.md.

// secretWriteEvery bounds the store writes one phone's requests cause when
// nothing but a timestamp changes.
const secretWriteEvery = time.Minute

// Binding events, for logs and tests.
const (
	secretsSent     = "sent"     // to the bound address
	secretsBound    = "bound"    // first fetch (or first after a re-arm): bound now
	secretsWithheld = "withheld" // another address: answered 404
)

// secretDecision is what decideSecrets makes of one request.
type secretDecision struct {
	next  store.SecretBinding
	write bool   // next must be stored
	give  bool   // serve the file with its secrets
	event string // secretsSent, secretsBound or secretsWithheld
	alert bool   // next.Alert was raised by this request
}

// decideSecrets applies the policy to one request from src for a file with
// secrets. cur is the phone's binding (found false: never fetched); known
// is where the phone was last seen before this request ("" if nowhere).
func decideSecrets(cur store.SecretBinding, found bool, src netip.Addr, known string, now time.Time) secretDecision {
	addr := src.String()
	if !src.IsValid() {
		return secretDecision{next: cur, event: secretsWithheld}
	}
	switch {
	case !found || cur.Address == "":
		next := cur
		prev := cur.Previous
		if prev == "" {
			prev = known
		}
		next.Address, next.BoundAt, next.Delivered, next.BoundBy = addr, now, now, "first fetch"
		d := secretDecision{next: next, write: true, give: true, event: secretsBound}
		if prev != "" && prev != addr {
			d.next.Alert = fmt.Sprintf("secrets went to a new address %s (phone was at %s)", addr, prev)
			d.next.AlertAt, d.alert = now, true
		}
		return d
	case cur.Address == addr:
		d := secretDecision{next: cur, give: true, event: secretsSent}
		if now.Sub(cur.Delivered) >= secretWriteEvery || now.Before(cur.Delivered) {
			d.next.Delivered, d.write = now, true
		}
		return d
	}
	d := secretDecision{next: cur, event: secretsWithheld}
	if cur.WithheldFrom != addr || now.Sub(cur.Withheld) >= secretWriteEvery || now.Before(cur.Withheld) {
		d.next.Withheld, d.next.WithheldFrom, d.write = now, addr, true
	}
	if cur.Alert == "" {
		d.next.Alert = fmt.Sprintf("file asked for from %s; secrets are bound to %s", addr, cur.Address)
		d.next.AlertAt, d.write, d.alert = now, true, true
	}
	return d
}

// secretBindings stores the bindings: the state db, or memory when the
// server runs without one (tests, embedding).
type secretBindings interface {
	UpdateSecretBinding(mac string, decide func(store.SecretBinding, bool) (store.SecretBinding, bool)) (store.SecretBinding, error)
	LookupSecretBinding(mac string) (store.SecretBinding, bool, error)
}

// memBindings keeps bindings in memory; the map's size is bounded by the
// directory's phones, the only MACs that reach it.
type memBindings struct {
	mu sync.Mutex
	m  map[string]store.SecretBinding
}

func (b *memBindings) UpdateSecretBinding(mac string, decide func(store.SecretBinding, bool) (store.SecretBinding, bool)) (store.SecretBinding, error) {
	norm, err := directory.NormalizeMAC(mac)
	if err != nil {
		return store.SecretBinding{}, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	cur, found := b.m[norm]
	cur.MAC = norm
	next, write := decide(cur, found)
	if !write {
		return cur, nil
	}
	next.MAC = norm
	b.m[norm] = next
	return next, nil
}

func (b *memBindings) LookupSecretBinding(mac string) (store.SecretBinding, bool, error) {
	norm, err := directory.NormalizeMAC(mac)
	if err != nil {
		return store.SecretBinding{}, false, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	sb, ok := b.m[norm]
	return sb, ok, nil
}

// fromBoundAddress reports whether src may stand for the phone in the
// inventory: its secrets are not bound to another address. A host naming
// someone else's MAC must not move that phone's address in `deskgatectl
// phones` (nor the address the alerts compare with).
func (s *Server) fromBoundAddress(mac string, src netip.Addr) bool {
	sb, ok, err := s.bindings.LookupSecretBinding(mac)
	if err != nil {
		s.log.Error("read provisioning secret binding", "mac", mac, "error", err)
		return false
	}
	return !ok || sb.Address == "" || sb.Address == src.String()
}

// checkSecrets decides a request for mac's file with secrets and records
// the outcome. An error means the store failed: the caller answers 500 and
// gives nothing.
func (s *Server) checkSecrets(mac string, src netip.Addr) (secretDecision, error) {
	known := ""
	if s.opts.Store != nil {
		if p, ok, err := s.opts.Store.LookupPhone(mac); err == nil && ok {
			if a := hostAddr(p.Address); a.IsValid() {
				known = a.String()
			}
		}
	}
	now := s.opts.Now().UTC()
	var d secretDecision
	_, err := s.bindings.UpdateSecretBinding(mac, func(cur store.SecretBinding, found bool) (store.SecretBinding, bool) {
		d = decideSecrets(cur, found, src, known, now)
		return d.next, d.write
	})
	if err != nil {
		return secretDecision{}, err
	}
	switch {
	case d.alert:
		s.log.Warn("provisioning secrets alert", "mac", mac, "addr", src.String(), "alert", d.next.Alert,
			"hint", "check the phone; if the address is not the phone's, rotate its user's password; then deskgatectl rearm "+mac)
	case d.event == secretsBound:
		s.log.Info("provisioning secrets bound", "mac", mac, "addr", src.String())
	}
	return d, nil
}

// hostAddr parses "ip" or "ip:port".
func hostAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	a, _ := netip.ParseAddr(s)
	return a.Unmap()
}
