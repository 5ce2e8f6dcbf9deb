package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/sipptest"
)

// Flood bounds: a few seconds of unauthenticated requests, as fast as the
// sender manages up to floodRate. floodCeiling is deliberately generous (an
// idle daemon is ~15 MB): the point is that answering a flood holds no
// per-request state, where one server transaction per request for 32 s
// took ~5 KB each (6,000 REGISTER/s for 30 s reached 1 GB).
const (
	floodRate     = 6000 // requests per second offered
	floodDuration = 3 * time.Second
	floodCeiling  = 64 << 20 // bytes of RSS, during and after
)

// TestUnauthenticatedFlood floods the built daemon over UDP on loopback with
// unauthenticated REGISTER, INVITE and SUBSCRIBE (each a new transaction)
// and checks that RSS stays under a generous ceiling during and after the
// flood, that the daemon still answers, and that the 407 to an INVITE that
// is never ACKed is sent once (a stateless answer), not retransmitted.
func TestUnauthenticatedFlood(t *testing.T) {
	sipPort := sipptest.FreePorts(t, 1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(sipOffice), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, fmt.Sprintf("directory: {file: office.yaml}\nsip: {listen: [\"udp:127.0.0.1:%d\"]}\n", sipPort))
	d := startDaemon(t, dir)
	pid := d.cmd.Process.Pid
	remote := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: sipPort}

	time.Sleep(300 * time.Millisecond) // let start-up garbage settle
	before := procRSS(t, pid)

	// The probe: one INVITE, never ACKed. Its 407 is counted for the whole
	// test (> 3.5 s, when a stateful 407 has been retransmitted 3 times).
	probe := listenUDP(t)
	probeStart := time.Now()
	probeCallID := "probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	probeFlood := testFlood
	probeFlood.IDPrefix = probeCallID + "-"
	if _, err := probe.WriteToUDP(probeFlood.Request(1, probe.LocalAddr().String()), remote); err != nil { // 1: an INVITE
		t.Fatal(err)
	}
	probeAnswers := countResponses(probe, probeCallID+"-1")

	fl := listenUDP(t)
	answers := countResponses(fl, "")
	ctx, cancel := context.WithTimeout(context.Background(), floodDuration)
	defer cancel()
	var peak int64
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				if n, err := readRSS(pid); err == nil {
					peak = max(peak, n)
				}
			}
		}
	}()
	sent, err := testFlood.Send(ctx, fl, remote, floodRate)
	if err != nil {
		t.Fatal(err)
	}
	<-sampled
	peak = max(peak, procRSS(t, pid))

	time.Sleep(2 * time.Second) // stragglers answered, a little scavenging
	after := procRSS(t, pid)
	if wait := 4*time.Second - time.Since(probeStart); wait > 0 {
		time.Sleep(wait) // past the third retransmission (0.5, 1.5, 3.5 s)
	}
	_ = fl.Close()
	_ = probe.Close()
	byStatus := answers()
	probeStatus := probeAnswers()

	t.Logf("flood: %d requests sent in %v; answers by status %v; RSS before %.1f MB, peak during %.1f MB, after %.1f MB",
		sent, floodDuration, byStatus, mb(before), mb(peak), mb(after))
	if peak > floodCeiling || after > floodCeiling {
		t.Errorf("RSS peak %.1f MB / after %.1f MB: over the %.0f MB ceiling", mb(peak), mb(after), mb(floodCeiling))
	}
	if byStatus[401] == 0 || byStatus[407] == 0 {
		t.Errorf("no challenges answered during the flood: %v", byStatus)
	}
	if probeStatus[407] != 1 || len(probeStatus) != 1 {
		t.Errorf("the unACKed INVITE got %v; want exactly one 407 (stateless, never retransmitted)", probeStatus)
	}
	if st := d.status(); !st.Ready {
		t.Errorf("daemon not ready after the flood: %+v", st)
	}
	var load struct {
		Transactions int `json:"sip_transactions"`
	}
	d.ctlJSON(&load, "status")
	if load.Transactions != 0 {
		t.Errorf("%d SIP transactions alive after the flood; want 0 (no state for unauthenticated requests)", load.Transactions)
	}
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// procRSS reads VmRSS of pid in bytes.
func procRSS(t *testing.T, pid int) int64 {
	t.Helper()
	n, err := readRSS(pid)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func readRSS(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse %q: %w", line, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadBuffer(4 << 20)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testFlood is the flood: unauthenticated requests claiming to be 1001.
var testFlood = sipptest.Flood{Domain: "hq.example.test", From: "1001", To: "1002", UserAgent: "flood", IDPrefix: "flood-"}

// countResponses reads responses on c until it is closed; the returned
// func gives the count per status (only for callID, unless it is "").
func countResponses(c *net.UDPConn, callID string) func() map[int]int {
	var mu sync.Mutex
	counts := map[int]int{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 65535)
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			msg, err := sip.ParseMessage(append([]byte(nil), buf[:n]...))
			if err != nil {
				continue
			}
			res, ok := msg.(*sip.Response)
			if !ok || (callID != "" && (res.CallID() == nil || res.CallID().Value() != callID)) {
				continue
			}
			mu.Lock()
			counts[res.StatusCode]++
			mu.Unlock()
		}
	}()
	return func() map[int]int {
		<-done
		mu.Lock()
		defer mu.Unlock()
		return counts
	}
}
