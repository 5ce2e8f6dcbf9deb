package main

import (
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory"
)

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// A phone of the directory fetches its file from the running daemon and
// finds its own SIP password in it; an unknown MAC gets 404, and a directory
// change is served on the next fetch.
func TestProvisioningServed(t *testing.T) {
	dir := t.TempDir()
	office := filepath.Join(dir, "office.yaml")
	if err := os.WriteFile(office, demoOffice(t, "p1"), 0o644); err != nil {
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
	if mac == "" {
		t.Fatal("demo office has no Yealink phone")
	}
	var cred struct{ Password string }
	d.ctlJSON(&cred, "credentials", user)

	get := func(file, ua string) (int, string) {
		req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/"+file, nil)
		req.Header.Set("User-Agent", ua)
		res, err := (&http.Client{Timeout: 5 * time.Second}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	hex := strings.ReplaceAll(mac, ":", "")
	code, body := get(hex+".cfg", "Yealink SIP-T54W 96.86.0.100 "+mac)
	if code != 200 || !strings.Contains(body, cred.Password) {
		t.Fatalf("own file: %d, password present %v", code, strings.Contains(body, cred.Password))
	}
	var phones []struct {
		MAC                    string
		User                   string
		Configured, Discovered bool
		Address                string
		Warnings               []string
	}
	d.ctlJSON(&phones, "phones")
	found, warned := false, false
	for _, p := range phones {
		if p.MAC == mac {
			found = p.Configured && p.Discovered && p.User == user && strings.Contains(p.Address, "127.0.0.1")
		}
		// The demo's yealink-t31p (jsmith's second desk) has two line
		// keys: its voicemail key does not fit, and phones says so.
		if p.MAC == "00:15:65:aa:bb:0b" {
			warned = len(p.Warnings) == 1 && strings.Contains(p.Warnings[0], `voicemail key "Voicemail"`)
		}
	}
	if !warned {
		t.Errorf("phones does not report the t31p's key that does not fit: %+v", phones)
	}
	if !found || len(phones) != len(snap.Phones()) {
		t.Errorf("phones after a provisioning fetch: %+v", phones)
	}
	if code, _ := get("001565ffffff.cfg", "Yealink SIP-T54W 96.86.0.100 00:15:65:ff:ff:ff"); code != 404 {
		t.Errorf("unknown MAC: %d, want 404", code)
	}
	if code, _ := get(hex+".cfg", "Yealink SIP-T54W 96.86.0.100 00:15:65:ff:ff:ff"); code != 403 {
		t.Errorf("User-Agent with another MAC: %d, want 403", code)
	}
}
