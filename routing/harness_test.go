package routing_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
	"deskgate/routing"
	"deskgate/routing/presence"
	"deskgate/routing/sipptest"
)

// office is the directory every integration test runs against. Ring
// timeouts are short so no-answer cases end quickly.
const office = `
	version: "routing-test"
	plan: pro
	timezone: UTC
	users:
	  - id: alice
	    name: Alice Able
	    extension: "1001"
	    numbers: ["+15551230001"]
	    license: talk
	    ring_timeout: 3s
	  - id: bob
	    name: Bob Baker
	    extension: "1002"
	    numbers: ["+15551230002"]
	    license: talk
	    ring_timeout: 3s
	  - id: carol
	    name: Carol Cole
	    extension: "1003"
	    license: talk
	    ring_timeout: 3s
`

// trunkIP is where sipp plays the trunk: another loopback address, so the
// trusted prefix does not cover the phones on 127.0.0.1.
const trunkIP = "127.0.0.2"

// harness is one in-process server on loopback with a temp store.
type harness struct {
	t    *testing.T
	opts routing.Options
	srv  *routing.Server
	db   *store.DB
	// presence is the service passed in Options (built anew at each start,
	// as the daemon does at each run).
	presence *presence.Service
	snap     *directory.Snapshot
	udp      string // 127.0.0.1:port
	tcp      string
	cancel   context.CancelFunc
	done     chan error
	logs     *logBuffer
}

type harnessOption func(*routing.Options)

func withTrunk(port int) harnessOption {
	return func(o *routing.Options) {
		o.Trunk = routing.TrunkOptions{
			Address:   fmt.Sprintf("%s:%d", trunkIP, port),
			Transport: "udp",
			Trusted:   []netip.Prefix{netip.MustParsePrefix(trunkIP + "/32")},
		}
	}
}

func withThrottle(n int) harnessOption {
	return func(o *routing.Options) {
		o.Throttle = routing.ThrottleOptions{Failures: n, Window: time.Minute, Block: time.Minute}
	}
}

// newHarness starts a server on fixed free ports (so a restart can reuse
// them) and waits until it is ready.
func newHarness(t *testing.T, opt ...harnessOption) *harness {
	t.Helper()
	return newHarnessOffice(t, office, opt...)
}

// newHarnessOffice is newHarness with another office directory.
func newHarnessOffice(t *testing.T, officeYAML string, opt ...harnessOption) *harness {
	t.Helper()
	sipptest.Require(t)
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	port := sipptest.FreePorts(t, 1)
	h := &harness{t: t, db: db, snap: directorytest.MustParse(t, officeYAML), logs: &logBuffer{}}
	h.udp = fmt.Sprintf("127.0.0.1:%d", port)
	h.tcp = h.udp
	snap := h.snap
	h.opts = routing.Options{
		Domain:             "test.example",
		Listen:             []string{"udp:" + h.udp, "tcp:" + h.tcp},
		RegisterMinExpires: 60,
		RegisterMaxExpires: 3600,
		Directory:          func() *directory.Snapshot { return snap },
		Store:              db,
		Log:                slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opt {
		o(&h.opts)
	}
	h.start()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	h.t.Helper()
	var err error
	h.presence, err = presence.New(presence.Options{Store: h.db, Log: h.opts.Log, Directory: h.opts.Directory,
		Now: h.opts.Now})
	if err != nil {
		h.t.Fatal(err)
	}
	h.opts.Presence = h.presence
	srv, err := routing.New(h.opts)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		h.t.Fatalf("server did not start: %v", err)
	case <-time.After(10 * time.Second):
		cancel()
		h.t.Fatal("server not ready after 10s")
	}
	h.srv, h.cancel, h.done = srv, cancel, done
}

// stop ends Run and checks it returned cleanly.
func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		h.t.Error("Run did not return within 10s of cancel")
	}
	h.cancel = nil
	if h.t.Failed() {
		h.t.Logf("server log:\n%s", h.logs.String())
	}
}

// restart stops the server and starts a new one on the same ports and store.
func (h *harness) restart() {
	h.t.Helper()
	h.stop()
	h.start()
}

// password returns a user's SIP password (what provisioning hands out).
func (h *harness) password(user string) string {
	h.t.Helper()
	u, ok := h.snap.User(user)
	if !ok {
		h.t.Fatalf("no user %s", user)
	}
	c, err := h.db.Credential(u.ID, u.Extension)
	if err != nil {
		h.t.Fatal(err)
	}
	return c.Password
}

// usersCSV writes a sipp injection file of lines made by userLine.
func (h *harness) usersCSV(lines ...string) string {
	h.t.Helper()
	var b strings.Builder
	b.WriteString("SEQUENTIAL\n")
	for _, l := range lines {
		b.WriteString(l + "\n")
	}
	p := filepath.Join(h.t.TempDir(), "users.csv")
	if err := os.WriteFile(p, []byte(b.String()), 0o600); err != nil {
		h.t.Fatal(err)
	}
	return p
}

// userLine is one CSV line: user;password;contact;[authentication ...]
// plus any extra fields (the authentication username is the user).
func userLine(user, password string, contactPort int, extra ...string) string {
	l := fmt.Sprintf("%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]", user, password, contactPort, user, password)
	for _, e := range extra {
		l += ";" + e
	}
	return l
}

// register registers ext's contact (another sipp's port) and fails the
// test unless it succeeds.
func (h *harness) register(ext, password string, contactPort int) {
	h.t.Helper()
	p := sipptest.Start(h.t, sipptest.Options{
		Name:     "reg-" + ext,
		Scenario: scenario("reg.xml"),
		Remote:   h.udp,
		Inf:      h.usersCSV(userLine(ext, password, contactPort)),
		Keys:     map[string]string{"expires": "300"},
		Timeout:  10 * time.Second,
	})
	if code := p.Wait(); code != 0 {
		h.t.Fatalf("register %s: sipp exit %d\n%s", ext, code, p.Output())
	}
}

// waitFor polls cond every 20 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scenario(name string) string {
	p, err := filepath.Abs(filepath.Join("testdata", "sipp", name))
	if err != nil {
		panic(err)
	}
	return p
}

// logBuffer is a goroutine-safe log sink shown when a test fails.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
