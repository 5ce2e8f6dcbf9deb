package routing_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
	"deskgate/routing"
	"deskgate/routing/events"
)

// pairingOffice is an executive and an assistant with desk phones; paired
// adds their pairing.
func pairingOffice(paired bool) string {
	y := `
	version: "check-sync"
	plan: pro
	timezone: UTC
	users:
	  - {id: erin, name: Erin Exec, extension: "1010", license: talk}
	  - {id: amy, name: Amy Asst, extension: "1011", license: talk}
	phones:
	  - {mac: "00:15:65:00:00:10", model: yealink-t54w, user: erin}
	  - {mac: "00:15:65:00:00:11", model: yealink-t54w, user: amy}
`
	if paired {
		y += `
	pairings:
	  - {executive: erin, assistant: amy, state: active}
`
	}
	return y
}

// TestSippCheckSync: issue 5 item 5. When a pairing is added to the
// directory, the daemon hands the affected phones' MACs (what
// provisioning.Affected computes: here the assistant's phone, which gets an
// executive line) to CheckSync, and that phone gets NOTIFY Event:
// check-sync;reboot=false. A phone not in the list gets nothing; a MAC not
// in the directory is skipped.
func TestSippCheckSync(t *testing.T) {
	var cur atomic.Pointer[directory.Snapshot]
	cur.Store(directorytest.MustParse(t, pairingOffice(false)))
	h := newHarnessOffice(t, pairingOffice(false), func(o *routing.Options) {
		o.Directory = cur.Load
	})
	amy := h.phone("amy-desk", "uas_notify.xml", "1011", "amy")
	erin := h.phone("erin-desk", "uas_notify.xml", "1010", "erin")
	cur.Store(directorytest.MustParse(t, pairingOffice(true)))
	h.srv.CheckSync(context.Background(), []string{"00:15:65:00:00:11", "00:15:65:99:99:99"})
	wantExit(t, amy)
	n := amy.Received("NOTIFY")
	if len(n) != 1 {
		t.Fatalf("assistant's phone got %d NOTIFYs, want 1", len(n))
	}
	if ev := n[0].Header("Event"); len(ev) != 1 || ev[0] != events.CheckSync {
		t.Errorf("Event %q, want %q", ev, events.CheckSync)
	}
	if !strings.HasPrefix(n[0].FirstLine(), "NOTIFY sip:1011@127.0.0.1:") {
		t.Errorf("request line %q, want the registered contact", n[0].FirstLine())
	}
	if st := n[0].Header("Subscription-State"); len(st) != 1 || !strings.HasPrefix(st[0], "terminated") {
		t.Errorf("Subscription-State %q", st)
	}
	time.Sleep(300 * time.Millisecond)
	erin.Stop()
	if got := erin.Received("NOTIFY"); len(got) != 0 {
		t.Errorf("the executive's phone got %d NOTIFYs, want none", len(got))
	}
	waitFor(t, 5*time.Second, "check-sync logged", func() bool {
		return strings.Contains(h.logs.String(), "check-sync sent") &&
			strings.Contains(h.logs.String(), "mac=00:15:65:99:99:99")
	})
}
