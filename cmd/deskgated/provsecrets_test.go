package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory"
)

// A phone's file with its SIP password goes only to the address its
// secrets are bound to; another address gets 404 and raises an alert in
// `deskgatectl phones` and `status`; `deskgatectl rearm` lets the next fetch
// bind again, and the binding survives a restart. Loopback gives one client
// address (127.0.0.1), so "the phone elsewhere" is ::1, bound by the
// operator with `rearm --address`.
func TestProvisioningSecretsBound(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), demoOffice(t, "p1"), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	writeConfig(t, dir, "directory: {file: office.yaml}\nprovisioning: {listen: \"127.0.0.1:"+port+"\"}\n")
	d := startDaemon(t, dir)

	snap, err := directory.Parse(demoOffice(t, "p1"))
	if err != nil {
		t.Fatal(err)
	}
	var mac, user string
	for _, p := range snap.Phones() {
		if directory.Vendor(p.Model) == "yealink" {
			mac, user = p.MAC, p.User
			break
		}
	}
	var cred struct{ Password string }
	d.ctlJSON(&cred, "credentials", user)
	file := strings.ReplaceAll(mac, ":", "") + ".cfg"
	fetch := func() (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/"+file, nil)
		req.Header.Set("User-Agent", "Yealink SIP-T54W 96.86.0.100 "+mac)
		res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	type phoneJSON struct {
		MAC          string `json:"mac"`
		Secrets      string `json:"secrets"`
		SecretsAlert string `json:"secrets_alert"`
	}
	phone := func(d *daemonProc) phoneJSON {
		t.Helper()
		var rows []phoneJSON
		d.ctlJSON(&rows, "phones")
		for _, r := range rows {
			if r.MAC == mac {
				return r
			}
		}
		t.Fatalf("%s not in deskgatectl phones: %+v", mac, rows)
		return phoneJSON{}
	}
	alerts := func(d *daemonProc) []string {
		t.Helper()
		var st struct {
			Alerts []string `json:"provisioning_alerts"`
		}
		d.ctlJSON(&st, "status")
		return st.Alerts
	}

	if p := phone(d); p.Secrets != "armed" || p.SecretsAlert != "" {
		t.Fatalf("before any fetch: %+v", p)
	}
	if out, errs, code := d.ctl("rearm", mac, "--address", "::1"); code != 0 || !strings.Contains(out, "secrets bound ::1") {
		t.Fatalf("rearm --address: exit %d %q %q", code, out, errs)
	}
	// A host that names the MAC from another address: no password.
	if code, body := fetch(); code != 404 || strings.Contains(body, cred.Password) {
		t.Fatalf("fetch from another address: %d, password present %v", code, strings.Contains(body, cred.Password))
	}
	want := "file asked for from 127.0.0.1; secrets are bound to ::1"
	if p := phone(d); p.Secrets != "bound ::1" || !strings.Contains(p.SecretsAlert, want) {
		t.Errorf("phones after a refused fetch: %+v", p)
	}
	if a := alerts(d); len(a) != 1 || !strings.Contains(a[0], mac) || !strings.Contains(a[0], want) {
		t.Errorf("status alerts %q", a)
	}
	if out, _, _ := d.ctl("status"); !strings.Contains(out, "provisioning alert: "+mac) || !strings.Contains(out, "deskgatectl rearm") {
		t.Errorf("status text lacks the alert:\n%s", out)
	}
	if out, _, _ := d.ctl("phones"); !strings.Contains(out, "bound ::1 (alert)") || !strings.Contains(out, "alert "+mac+": "+want) {
		t.Errorf("phones text lacks the alert:\n%s", out)
	}

	// IT re-arms: the alert goes, and the next fetch binds its address.
	if out, errs, code := d.ctl("rearm", mac); code != 0 || !strings.Contains(out, "re-armed") {
		t.Fatalf("rearm: exit %d %q %q", code, out, errs)
	}
	if p := phone(d); p.Secrets != "armed" || p.SecretsAlert != "" || len(alerts(d)) != 0 {
		t.Errorf("after rearm: %+v, status alerts %q", p, alerts(d))
	}
	for i := range 2 { // the first fetch binds, the re-fetch (check-sync, timer) still gets it
		if code, body := fetch(); code != 200 || !strings.Contains(body, cred.Password) {
			t.Fatalf("fetch %d after rearm: %d, password present %v", i+1, code, strings.Contains(body, cred.Password))
		}
	}
	p := phone(d)
	if p.Secrets != "bound 127.0.0.1" || !strings.Contains(p.SecretsAlert, "secrets went to a new address 127.0.0.1 (phone was at ::1)") {
		t.Errorf("after the fetch: %+v", p)
	}

	// The binding is in the state db: a restart keeps it.
	logs := d.stderr.String()
	if err, _ := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	d = startDaemon(t, dir)
	if code, body := fetch(); code != 200 || !strings.Contains(body, cred.Password) {
		t.Errorf("fetch after restart: %d", code)
	}
	if p := phone(d); p.Secrets != "bound 127.0.0.1" {
		t.Errorf("after restart: %+v", p)
	}
	if out, errs, code := d.ctl("rearm", "00:15:65:ff:ff:ff"); code != 1 || !strings.Contains(errs, "not in the directory") {
		t.Errorf("rearm of an unknown phone: exit %d %q %q", code, out, errs)
	}
	if _, errs, code := d.ctl("rearm", mac, "--address", "phone.example"); code != 1 || !strings.Contains(errs, "not an IP address") {
		t.Errorf("rearm with a bad address: exit %d %q", code, errs)
	}
	logs += d.stderr.String()
	if !strings.Contains(logs, "provisioning secrets alert") || strings.Contains(logs, cred.Password) {
		t.Errorf("log: alert present %v, password present %v", strings.Contains(logs, "provisioning secrets alert"),
			strings.Contains(logs, cred.Password))
	}
}
