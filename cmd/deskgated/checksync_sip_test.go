package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// checkSyncOffice is an executive and an assistant with Yealink phones;
// paired adds their pairing, which gives the assistant's phone an executive
// line (a new configuration file).
func checkSyncOffice(paired bool) string {
	y := `version: "cs-%d"
plan: pro
timezone: UTC
users:
  - {id: erin, name: Erin Exec, extension: "1010", license: talk}
  - {id: amy, name: Amy Asst, extension: "1011", license: talk}
phones:
  - {mac: "00:15:65:00:00:10", model: yealink-t54w, user: erin}
  - {mac: "00:15:65:00:00:11", model: yealink-t54w, user: amy}
`
	if !paired {
		return fmt.Sprintf(y, 1)
	}
	return fmt.Sprintf(y, 2) + "pairings:\n  - {executive: erin, assistant: amy, state: active}\n"
}

// A pairing added to the watched directory file makes the daemon send the
// assistant's registered phone NOTIFY Event: check-sync;reboot=false (docs/spec.md
// §5), end to end: file watch → validate → swap → provisioning.Affected →
// routing CheckSync. The executive's phone, whose file is unchanged, gets
// nothing; the assistant's phone, fetching its file again as check-sync
// asks, finds the executive's line as a shared call appearance.
func TestCheckSyncAfterDirectoryChange(t *testing.T) {
	sipptest.Require(t)
	sipPort := sipptest.FreePorts(t, 1)
	dir := t.TempDir()
	office := filepath.Join(dir, "office.yaml")
	if err := os.WriteFile(office, []byte(checkSyncOffice(false)), 0o644); err != nil {
		t.Fatal(err)
	}
	provPort := freePort(t)
	writeConfig(t, dir, fmt.Sprintf("directory: {file: office.yaml}\nsip: {listen: [\"udp:127.0.0.1:%d\"]}\n"+
		"provisioning: {listen: \"127.0.0.1:%s\"}\n", sipPort, provPort))
	d := startDaemon(t, dir)
	remote := "127.0.0.1:" + strconv.Itoa(sipPort)

	phone := func(name, user string) *sipptest.Process {
		var c struct{ Username, Password string }
		d.ctlJSON(&c, "credentials", user)
		p := sipptest.Start(t, sipptest.Options{Name: name, Scenario: sippScenario(t, "uas_notify.xml"), Timeout: 20 * time.Second})
		reg := sipptest.Start(t, sipptest.Options{Name: name + "-register", Scenario: sippScenario(t, "reg.xml"),
			Remote: remote, Timeout: 10 * time.Second, Keys: map[string]string{"expires": "300"},
			Inf: writeCSV(t, fmt.Sprintf("%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]\n",
				c.Username, c.Password, p.Port, c.Username, c.Password))})
		if code := reg.Wait(); code != 0 {
			t.Fatalf("%s: register exit %d\n%s", name, code, reg.Output())
		}
		return p
	}
	amy := phone("amy-desk", "amy")
	erin := phone("erin-desk", "erin")

	replaceFile(t, office, []byte(checkSyncOffice(true)))
	if code := amy.Wait(); code != 0 {
		t.Fatalf("assistant's phone: sipp exit %d (no check-sync?)\n%s\ndaemon:\n%s", code, amy.Output(), d.stderr)
	}
	n := amy.Received("NOTIFY")
	if len(n) != 1 {
		t.Fatalf("assistant's phone got %d NOTIFYs", len(n))
	}
	if ev := n[0].Header("Event"); len(ev) != 1 || !strings.HasPrefix(ev[0], "check-sync") || !strings.Contains(ev[0], "reboot=false") {
		t.Errorf("Event %q, want check-sync;reboot=false", ev)
	}
	res, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://127.0.0.1:" + provPort + "/001565000011.cfg")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	for _, want := range []string{"account.2.user_name = 1010", "account.2.auth_name = 1011", "account.2.shared_line = 1",
		"account.2.feature_key_sync.enable = 0", "linekey.2.type = 15", "linekey.2.line = 2"} {
		if res.StatusCode != http.StatusOK || !strings.Contains(string(body), want+"\n") {
			t.Errorf("assistant's file after check-sync (%d) lacks %q:\n%s", res.StatusCode, want, body)
		}
	}
	time.Sleep(300 * time.Millisecond)
	erin.Stop()
	if got := erin.Received("NOTIFY"); len(got) != 0 {
		t.Errorf("the executive's phone got %d NOTIFYs, want none", len(got))
	}
}
