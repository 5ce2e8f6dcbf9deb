package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"deskgate/routing/sipptest"
)

// A phone's DND key (BroadSoft as-feature-event subscription) follows
// `deskgatectl dnd` (docs/spec.md §5: DND set from deskgatectl lights every phone of
// the user), end to end through the built daemon.
func TestDNDKeyFollowsDeskgatectl(t *testing.T) {
	sipptest.Require(t)
	sipPort := sipptest.FreePorts(t, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(sipOffice), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, fmt.Sprintf("directory: {file: office.yaml}\nsip: {listen: [\"udp:127.0.0.1:%d\"]}\n", sipPort))
	d := startDaemon(t, dir)
	var c struct{ Username, Password string }
	d.ctlJSON(&c, "credentials", "alice")
	key := sipptest.Start(t, sipptest.Options{Name: "alice-dnd-key", Scenario: sippScenario(t, "subscriber.xml"),
		Remote: "127.0.0.1:" + strconv.Itoa(sipPort), Service: c.Username, Timeout: 30 * time.Second,
		Inf: writeCSV(t, fmt.Sprintf("%s;%s;127.0.0.1:5999;[authentication username=%s password=%s]\n",
			c.Username, c.Password, c.Username, c.Password)),
		Keys: map[string]string{"event": "as-feature-event", "accept": "application/x-as-feature-event+xml", "expires": "600"}})
	defer key.Stop()

	dndBodies := func() []string {
		var out []string
		for _, m := range key.Received("NOTIFY") {
			out = append(out, m.Text)
		}
		return out
	}
	eventually(t, 10*time.Second, "the initial NOTIFY", func() bool { return len(dndBodies()) >= 1 })
	if b := dndBodies()[0]; !strings.Contains(b, "<doNotDisturbOn>false</doNotDisturbOn>") {
		t.Fatalf("initial state: %q", b)
	}
	if _, errs, code := d.ctl("dnd", "alice", "on"); code != 0 {
		t.Fatalf("deskgatectl dnd alice on: %d %s", code, errs)
	}
	eventually(t, 10*time.Second, "a NOTIFY with DND on", func() bool {
		bs := dndBodies()
		return len(bs) >= 2 && strings.Contains(bs[len(bs)-1], "<doNotDisturbOn>true</doNotDisturbOn>")
	})
}
