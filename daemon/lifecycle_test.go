package daemon

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// inProcess writes a loopback config (SIP on free ports, no provisioning,
// no discovery) with the demo office and returns a daemon built from it,
// not yet started.
func inProcess(t *testing.T) *Daemon {
	t.Helper()
	dir := t.TempDir()
	office, err := os.ReadFile(filepath.Join("..", "testdata", "demo", "office.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), office, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `site: test
domain: test.example
state_dir: state
sip:
  listen: ["udp:127.0.0.1:0", "tcp:127.0.0.1:0"]
provisioning:
  listen: ""
discovery:
  mdns: false
  pnp: false
directory:
  file: office.yaml
control:
  socket: control.sock
log:
  level: warn
`
	path := filepath.Join(dir, "deskgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	opts := Options{ConfigPath: path, Version: "test", Stderr: io.Discard}
	c, err := loadConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	return newDaemon(opts, c)
}

// run starts d like Run does and returns a stop function that cancels it
// and waits (at most 10 s) for serve to return its error.
func run(t *testing.T, d *Daemon) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := d.start(ctx); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		err := d.serve(ctx)
		d.db.Close()
		done <- err
	}()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("daemon did not stop within 10s")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

func waitReady(t *testing.T, d *Daemon) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !d.ready.Load(); {
		if time.Now().After(deadline) {
			t.Fatal("daemon not ready after 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Reloads and check-sync requests arriving while the SIP stack is being
// set up must neither race with it (run under -race) nor be lost.
func TestReloadDuringStart(t *testing.T) {
	d := inProcess(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var reloads atomic.Int32
	wg.Add(2)
	go func() { // deskgatectl reload, as soon and as often as it can
		defer wg.Done()
		for i := 0; i < 20 && ctx.Err() == nil; i++ {
			rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
			if err := d.requestReload(rctx); err == nil {
				reloads.Add(1)
			}
			rcancel()
		}
	}()
	stop := run(t, d)
	go func() { // a directory change's check-sync, during the start
		defer wg.Done()
		for i := 0; i < 200 && ctx.Err() == nil; i++ {
			d.sip.CheckSync(ctx, []string{"00:15:65:00:00:01"})
			time.Sleep(time.Millisecond)
		}
	}()
	waitReady(t, d)
	wg.Wait()
	if reloads.Load() == 0 {
		t.Error("no reload succeeded")
	}
	if err := stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// Stopping while requests pour in must be clean: no panic from handlers
// entering during the drain, and serve returns (run under -race).
func TestStopDuringLoad(t *testing.T) {
	d := inProcess(t)
	stop := run(t, d)
	waitReady(t, d)
	var udp string
	for _, a := range d.sip.Addrs() {
		if strings.HasPrefix(a, "udp:") {
			udp = strings.TrimPrefix(a, "udp:")
		}
	}
	if udp == "" {
		t.Fatalf("no UDP listener in %v", d.sip.Addrs())
	}
	var wg sync.WaitGroup
	quit := make(chan struct{})
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("udp", udp)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for i := 0; i < 20000; i++ {
				select {
				case <-quit:
					return
				default:
				}
				msg := loadRequest(w, i, c.LocalAddr().String())
				if _, err := c.Write(msg); err != nil {
					return
				}
				if i%50 == 0 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	err := stop()
	close(quit)
	wg.Wait()
	if err != nil {
		t.Fatalf("stop under load: %v", err)
	}
}

// loadRequest is an OPTIONS or an unauthenticated REGISTER from worker w.
func loadRequest(w, i int, from string) []byte {
	method, ruri := "OPTIONS", "sip:test.example"
	if i%2 == 1 {
		method = "REGISTER"
	}
	id := itoa(w) + "-" + itoa(i)
	return []byte(method + " " + ruri + " SIP/2.0\r\n" +
		"Via: SIP/2.0/UDP " + from + ";branch=z9hG4bK-" + id + ";rport\r\n" +
		"Max-Forwards: 70\r\n" +
		"From: <sip:1001@test.example>;tag=t" + id + "\r\n" +
		"To: <sip:1001@test.example>\r\n" +
		"Call-ID: load-" + id + "\r\n" +
		"CSeq: 1 " + method + "\r\n" +
		"Contact: <sip:1001@" + from + ">\r\n" +
		"Content-Length: 0\r\n\r\n")
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

// The watchdog's probe is true on a running daemon.
func TestAliveProbe(t *testing.T) {
	d := inProcess(t)
	run(t, d)
	waitReady(t, d)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.alive(ctx); err != nil {
		t.Fatalf("alive on a running daemon: %v", err)
	}
}

// WATCHDOG=1 goes out only while the probe passes; a probe that hangs
// withholds pings without piling up probes.
func TestWatchdogFollowsProbe(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "40000") // a ping every 20 ms
	t.Setenv("WATCHDOG_PID", "")

	var mode atomic.Int32 // 0 ok, 1 failing, 2 hanging
	var running, maxRunning atomic.Int32
	probe := func(ctx context.Context) error {
		n := running.Add(1)
		defer running.Add(-1)
		if n > maxRunning.Load() {
			maxRunning.Store(n)
		}
		switch mode.Load() {
		case 1:
			return errors.New("store wedged")
		case 2:
			time.Sleep(200 * time.Millisecond) // ignores ctx, like a stuck fsync
		}
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	n := newNotifier(newLogger(io.Discard, new(slog.LevelVar)))
	go func() { defer close(done); _ = n.watchdog(ctx, probe) }()
	defer func() { cancel(); <-done }()

	count := func(d time.Duration) int {
		pings := 0
		buf := make([]byte, 256)
		for end := time.Now().Add(d); time.Now().Before(end); {
			_ = conn.SetReadDeadline(end)
			k, err := conn.Read(buf)
			if err != nil {
				break
			}
			if strings.Contains(string(buf[:k]), "WATCHDOG=1") {
				pings++
			}
		}
		return pings
	}
	if got := count(300 * time.Millisecond); got == 0 {
		t.Fatal("no WATCHDOG=1 while the probe passes")
	}
	mode.Store(1)
	count(50 * time.Millisecond) // a ping already in flight
	if got := count(300 * time.Millisecond); got != 0 {
		t.Fatalf("%d WATCHDOG=1 while the probe fails", got)
	}
	mode.Store(2)
	count(50 * time.Millisecond)
	if got := count(300 * time.Millisecond); got != 0 {
		t.Fatalf("%d WATCHDOG=1 while the probe hangs", got)
	}
	if m := maxRunning.Load(); m > 1 {
		t.Fatalf("%d probes ran at once", m)
	}
	mode.Store(0)
	time.Sleep(250 * time.Millisecond) // the hung probe returns
	if got := count(300 * time.Millisecond); got == 0 {
		t.Fatal("pings did not resume when the probe passed again")
	}
}

// A reload applies feature codes to routing at once (routing reads them
// through featureCodes per call) and lists a changed site as needing a
// restart rather than pretending it applied.
func TestReloadFeatureCodesLiveSiteRestart(t *testing.T) {
	d := inProcess(t)
	next := *d.cfg.Load()
	next.Site = "elsewhere"
	next.FeatureCodes.DNDOn = "*11"
	d.applyConfig(&next)
	if got := d.featureCodes().DNDOn; got != "*11" {
		t.Errorf("dnd_on after reload = %q, want *11", got)
	}
	if got := d.cfg.Load().Site; got != "test" {
		t.Errorf("running site = %q, want the started one (test)", got)
	}
	if r := d.restartRequired(); len(r) != 1 || r[0] != "site" {
		t.Errorf("restart_required = %v, want [site]", r)
	}
}
