package provisioning

import (
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

func TestDecideSecrets(t *testing.T) {
	a, b := netip.MustParseAddr("192.0.2.7"), netip.MustParseAddr("192.0.2.66")
	now := testNow
	bound := store.SecretBinding{MAC: "00:15:65:00:00:01", Address: "192.0.2.7", BoundAt: now.Add(-time.Hour),
		BoundBy: "first fetch", Delivered: now.Add(-time.Hour)}
	tests := []struct {
		name       string
		cur        store.SecretBinding
		found      bool
		src        netip.Addr
		known      string
		now        time.Time
		give       bool
		write      bool
		event      string
		alert      string // substring of next.Alert; "" = none raised
		wantAddr   string
		wantWithFr string
	}{
		{name: "first fetch binds", src: a, give: true, write: true, event: secretsBound, wantAddr: "192.0.2.7"},
		{name: "first fetch where the phone was seen", src: a, known: "192.0.2.7", give: true, write: true,
			event: secretsBound, wantAddr: "192.0.2.7"},
		{name: "first fetch from elsewhere than the phone was seen", src: b, known: "192.0.2.7", give: true, write: true,
			event: secretsBound, alert: "new address 192.0.2.66 (phone was at 192.0.2.7)", wantAddr: "192.0.2.66"},
		{name: "bound address gets them again", cur: bound, found: true, src: a, give: true, write: true,
			event: secretsSent, wantAddr: "192.0.2.7"},
		{name: "bound address within a minute: no write", cur: func() store.SecretBinding {
			c := bound
			c.Delivered = now.Add(-10 * time.Second)
			return c
		}(), found: true, src: a, give: true, event: secretsSent, wantAddr: "192.0.2.7"},
		{name: "another address is refused and raises an alert", cur: bound, found: true, src: b, write: true,
			event: secretsWithheld, alert: "asked for from 192.0.2.66; secrets are bound to 192.0.2.7",
			wantAddr: "192.0.2.7", wantWithFr: "192.0.2.66"},
		{name: "re-armed phone binds the next address, alert against the old one", found: true, src: b,
			cur:  store.SecretBinding{MAC: "00:15:65:00:00:01", Previous: "192.0.2.7", ArmedAt: now.Add(-time.Minute)},
			give: true, write: true, event: secretsBound, alert: "new address 192.0.2.66 (phone was at 192.0.2.7)",
			wantAddr: "192.0.2.66"},
		{name: "re-armed phone back at its address: no alert", found: true, src: a, known: "192.0.2.99",
			cur:  store.SecretBinding{MAC: "00:15:65:00:00:01", Previous: "192.0.2.7"},
			give: true, write: true, event: secretsBound, wantAddr: "192.0.2.7"},
		{name: "no source address gets nothing", src: netip.Addr{}, event: secretsWithheld},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			when := tc.now
			if when.IsZero() {
				when = now
			}
			d := decideSecrets(tc.cur, tc.found, tc.src, tc.known, when)
			if d.give != tc.give || d.write != tc.write || d.event != tc.event {
				t.Fatalf("give %v write %v event %q; want %v %v %q", d.give, d.write, d.event, tc.give, tc.write, tc.event)
			}
			if (tc.alert == "") != !d.alert || !strings.Contains(d.next.Alert, tc.alert) {
				t.Errorf("alert raised %v %q, want %q", d.alert, d.next.Alert, tc.alert)
			}
			if d.next.Address != tc.wantAddr || d.next.WithheldFrom != tc.wantWithFr {
				t.Errorf("next %+v", d.next)
			}
		})
	}
}

// The attack: a LAN host names a phone's MAC (with no User-Agent,
// a browser's, or one that repeats the MAC) after the phone has fetched
// its file; it must not get the password, for any vendor.
func TestSecretsOnlyToTheFirstAddress(t *testing.T) {
	snap := goldenOffice(t)
	db := openStore(t)
	s, logs := newTestServer(t, snap, func(o *Options) { o.Store = db; o.RateBurst = 1000 })
	h := s.Handler()
	const phone, attacker = "192.0.2.7:5000", "192.0.2.66:6000"
	for _, p := range snap.Phones() {
		t.Run(p.MAC, func(t *testing.T) {
			path, pw := phonePath(p), passwordOf(p.User)
			w := do(h, http.MethodGet, path, uaFor(p), phone, nil)
			if w.Code != 200 || !strings.Contains(w.Body.String(), pw) {
				t.Fatalf("first fetch: status %d, password in file %v", w.Code, strings.Contains(w.Body.String(), pw))
			}
			for _, ua := range []string{"", "curl/8.5.0", uaFor(p)} {
				w := do(h, http.MethodGet, path, ua, attacker, nil)
				if w.Code != http.StatusNotFound || strings.Contains(w.Body.String(), pw) {
					t.Errorf("from another address with User-Agent %q: status %d", ua, w.Code)
				}
				if w.Body.String() != "404 page not found\n" {
					t.Errorf("refusal differs from an unknown MAC's 404: %q", w.Body)
				}
			}
			// The phone itself keeps getting its whole file: re-fetches on
			// check-sync, on a timer and after a factory reset.
			if w := do(h, http.MethodGet, path, uaFor(p), phone, nil); w.Code != 200 || !strings.Contains(w.Body.String(), pw) {
				t.Errorf("re-fetch from the phone's address: status %d", w.Code)
			}
			sb := bindingOf(t, db, p.MAC)
			if sb.Address != "192.0.2.7" || sb.WithheldFrom != "192.0.2.66" ||
				!strings.Contains(sb.Alert, "asked for from 192.0.2.66; secrets are bound to 192.0.2.7") {
				t.Errorf("binding %+v", sb)
			}
		})
	}
	// Files without a secret still reach a phone that moved (it needs them
	// to find its own file); the inventory is not told the attacker's address.
	if w := do(h, http.MethodGet, "/001565000001.boot", "", attacker, nil); w.Code != 200 {
		t.Errorf("boot file from another address: status %d", w.Code)
	}
	if w := do(h, http.MethodGet, "/y000000000096.cfg", uaYealinkT54W, attacker, nil); w.Code != 200 {
		t.Errorf("common file from another address: status %d", w.Code)
	}
	for _, mac := range []string{"00:04:13:00:00:01", "00:15:65:00:00:01"} {
		if p, _, _ := db.LookupPhone(mac); p.Address != "192.0.2.7" {
			t.Errorf("inventory address of %s %q, want the phone's", mac, p.Address)
		}
	}
	out := logs.String()
	if !strings.Contains(out, `msg="provisioning secrets alert"`) || !strings.Contains(out, "secrets=withheld") {
		t.Errorf("no alert / withheld in the log:\n%s", out)
	}
	for _, u := range snap.Users() {
		if strings.Contains(out, passwordOf(u.ID)) {
			t.Fatalf("a password was logged")
		}
	}
}

// Re-arming (what deskgatectl rearm stores) lets the next fetch bind
// again: a phone that moved, was replaced or was reset onto a new address.
// The binding survives a restart of the server.
func TestRearmAndRestart(t *testing.T) {
	snap := goldenOffice(t)
	db := openStore(t)
	newServer := func() http.Handler {
		s, _ := newTestServer(t, snap, func(o *Options) { o.Store = db; o.RateBurst = 1000 })
		return s.Handler()
	}
	const path, pw = "/cfgc074ad000001.xml", "pw-pat-Zq7x"
	if w := do(newServer(), http.MethodGet, path, "", "192.0.2.7:1", nil); !strings.Contains(w.Body.String(), pw) {
		t.Fatalf("first fetch: %d", w.Code)
	}
	h := newServer() // a restart
	if w := do(h, http.MethodGet, path, "", "192.0.2.8:1", nil); w.Code != 404 {
		t.Fatalf("after a restart another address got %d", w.Code)
	}
	if _, err := db.UpdateSecretBinding("c0:74:ad:00:00:01", func(cur store.SecretBinding, _ bool) (store.SecretBinding, bool) {
		return store.SecretBinding{Previous: cur.Address, ArmedAt: testNow}, true
	}); err != nil {
		t.Fatal(err)
	}
	if w := do(h, http.MethodGet, path, "", "192.0.2.8:1", nil); w.Code != 200 || !strings.Contains(w.Body.String(), pw) {
		t.Fatalf("after re-arm: %d", w.Code)
	}
	sb := bindingOf(t, db, "c0:74:ad:00:00:01")
	if sb.Address != "192.0.2.8" || !strings.Contains(sb.Alert, "new address 192.0.2.8 (phone was at 192.0.2.7)") {
		t.Errorf("binding after re-arm: %+v", sb)
	}
	if w := do(h, http.MethodGet, path, "", "192.0.2.7:1", nil); w.Code != 404 {
		t.Errorf("old address after re-arm: %d", w.Code)
	}
}

// Without a state db the server keeps the bindings in memory: the policy
// is never off.
func TestSecretsWithoutStore(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	if w := do(s.Handler(), http.MethodGet, "/001565000003.cfg", "", "192.0.2.7:1", nil); w.Code != 200 {
		t.Fatalf("first: %d", w.Code)
	}
	if w := do(s.Handler(), http.MethodGet, "/001565000003.cfg", "", "192.0.2.8:1", nil); w.Code != 404 {
		t.Errorf("second address: %d", w.Code)
	}
}

// Request lines are bounded per source, 429s included, with the count of
// what was left out; other sources keep their own budget.
func TestRequestLogIsBounded(t *testing.T) {
	snap := goldenOffice(t)
	s, logs := newTestServer(t, snap, nil) // fixed clock: no refill
	h := s.Handler()
	for range 200 {
		do(h, http.MethodGet, "/0015659999aa.cfg", "", "192.0.2.9:1", nil) // 40 x 404, then 429s
	}
	lines := strings.Count(logs.String(), `msg="provisioning request"`)
	if lines != logBurst {
		t.Errorf("%d request lines for 200 requests, want %d", lines, logBurst)
	}
	if w := do(h, http.MethodGet, "/0015659999aa.cfg", "", "192.0.2.10:1", nil); w.Code != 404 ||
		!strings.Contains(logs.String(), "addr=192.0.2.10") {
		t.Errorf("another source's line missing")
	}
	// Once the budget refills, the next line says how many were dropped.
	l := newLogSampler(4)
	src := netip.MustParseAddr("192.0.2.9")
	for range 25 {
		l.allow(src, testNow)
	}
	ok, n := l.allow(src, testNow.Add(10*time.Second))
	if !ok || n != 5 {
		t.Errorf("after refill: ok %v suppressed %d, want true 5", ok, n)
	}
	for i := range 100 {
		l.allow(netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}), testNow)
	}
	if len(l.dropped) > 4 {
		t.Errorf("drop table grew to %d", len(l.dropped))
	}
}

func bindingOf(t *testing.T, db *store.DB, mac string) store.SecretBinding {
	t.Helper()
	all, err := db.SecretBindings()
	if err != nil {
		t.Fatal(err)
	}
	for _, sb := range all {
		if sb.MAC == mac {
			return sb
		}
	}
	t.Fatalf("no binding for %s in %+v", mac, all)
	return store.SecretBinding{}
}

// uaFor is the provisioning User-Agent a phone of p's vendor sends.
func uaFor(p directory.Phone) string {
	hex := compactMAC(p.MAC)
	switch directory.Vendor(p.Model) {
	case "yealink":
		return "Yealink SIP-T54W 96.86.0.100 " + p.MAC
	case "poly":
		return "FileTransport PolycomVVX-VVX_450-UA/6.4.3 (SN:" + hex + ") Type/Application"
	case "grandstream":
		return "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId " + hex
	case "snom":
		return fmt.Sprintf("Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 2.0 %s SXM:0 UXM:0)", strings.ToUpper(hex))
	case "cisco":
		return "Cisco-CP-8851-3PCC/11.3.7 (" + hex + ")"
	case "fanvil":
		return "Fanvil X6U 2.12.1 " + hex
	}
	return ""
}
