package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// sippRun describes one sipp process.
type sippRun struct {
	Name     string
	Scenario string // path of the scenario XML
	Remote   string // host:port of deskgated; "" for a phone (UAS)
	Port     int    // -p
	Media    int    // -mp (sipp binds media ports at start: distinct per process)
	Calls    int    // -m
	Rate     int    // -r calls per second; 0 = sipp's default
	Service  string // -s
	Inf      string // -inf CSV
	Keys     map[string]string
	Hold     time.Duration // -d: length of <pause/>
	Bound    time.Duration // -timeout; the watchdog stops the process 5 s later
	Counts   bool          // -trace_counts: per-message counts (see count)
}

// sippProc is a running sipp.
type sippProc struct {
	name    string
	dir     string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	started time.Time
	ended   time.Time
	mu      sync.Mutex
	killed  bool
}

func (r sippRun) args(dir string) []string {
	limit := max(10*r.Rate, 200) // sipp's default -l (3 x rate x -d) would throttle short calls
	a := []string{"-sf", r.Scenario, "-nostdin", "-nd", "-i", "127.0.0.1",
		"-p", strconv.Itoa(r.Port), "-mp", strconv.Itoa(r.Media), "-t", "u1",
		"-m", strconv.Itoa(max(r.Calls, 1)), "-l", strconv.Itoa(limit),
		"-timeout", strconv.Itoa(max(int(r.Bound.Seconds()), 1)), "-timeout_error",
		"-trace_stat", "-stf", filepath.Join(dir, "stat.csv"), "-fd", "5",
		"-trace_err", "-error_file", filepath.Join(dir, "errors.log"),
	}
	if r.Rate > 0 {
		a = append(a, "-r", strconv.Itoa(r.Rate))
	}
	if r.Counts {
		a = append(a, "-trace_counts")
	}
	if r.Service != "" {
		a = append(a, "-s", r.Service)
	}
	if r.Inf != "" {
		a = append(a, "-inf", r.Inf)
	}
	if r.Hold > 0 {
		a = append(a, "-d", strconv.Itoa(int(r.Hold.Milliseconds())))
	}
	for k, v := range r.Keys {
		a = append(a, "-key", k, v)
	}
	if r.Remote != "" {
		a = append(a, r.Remote)
	}
	return a
}

// startSipp starts r in its own directory under work. Its watchdog stops
// it 5 s after r.Bound: sipp's -timeout is not a hard bound (a call that
// waits for a message that never comes keeps it running).
func (b *bench) startSipp(r sippRun) (*sippProc, error) {
	dir := filepath.Join(b.work, "sipp", r.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sipp %s: %w", r.Name, err)
	}
	out, err := os.Create(filepath.Join(dir, "output.log"))
	if err != nil {
		return nil, fmt.Errorf("sipp %s: %w", r.Name, err)
	}
	defer out.Close()
	p := &sippProc{name: r.Name, dir: dir, done: make(chan struct{})}
	p.cmd = command(b.loadCPUs, b.sipp, r.args(dir)...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = out, out
	p.cmd.SysProcAttr = childAttr()
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start sipp %s: %w", r.Name, err)
	}
	b.track(p.stop)
	go func() {
		p.err = p.cmd.Wait()
		p.ended = time.Now()
		close(p.done)
	}()
	go func() {
		select {
		case <-p.done:
		case <-time.After(r.Bound + 5*time.Second):
			p.mu.Lock()
			p.killed = true
			p.mu.Unlock()
			p.stop()
		}
	}()
	return p, nil
}

// stop ends the process by PID: TERM, then KILL after 3 s. Idempotent.
func (p *sippProc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(3 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// wait waits for the process to end by itself, at most until ctx ends
// (then it is stopped), and returns its exit status (0 = all calls passed).
func (p *sippProc) wait(ctx context.Context) int {
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop()
	}
	var ee *exec.ExitError
	switch {
	case errors.As(p.err, &ee):
		return ee.ExitCode()
	case p.err != nil:
		return -1
	}
	return 0
}

// watchdogFired reports whether the process outlived its bound.
func (p *sippProc) watchdogFired() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// sippStats are the cumulative counters of sipp's last -trace_stat line.
type sippStats struct {
	Successful, Failed, Retrans, Unexpected, TimeoutRecv int
	RTD                                                  map[string]time.Duration // mean response time per rtd name
}

// stats reads the last line of the -trace_stat file (sipp writes one at exit).
func (p *sippProc) stats() (sippStats, error) {
	f, err := os.Open(filepath.Join(p.dir, "stat.csv"))
	if err != nil {
		return sippStats{}, fmt.Errorf("sipp %s stats: %w", p.name, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var header, last []string
	for sc.Scan() {
		if header == nil {
			header = strings.Split(sc.Text(), ";")
			continue
		}
		last = strings.Split(sc.Text(), ";")
	}
	if err := sc.Err(); err != nil {
		return sippStats{}, fmt.Errorf("sipp %s stats: %w", p.name, err)
	}
	if header == nil || last == nil {
		return sippStats{}, fmt.Errorf("sipp %s stats: no data in stat.csv", p.name)
	}
	col := func(name string) string {
		for i, h := range header {
			if h == name && i < len(last) {
				return last[i]
			}
		}
		return ""
	}
	num := func(name string) int { n, _ := strconv.Atoi(col(name)); return n }
	s := sippStats{Successful: num("SuccessfulCall(C)"), Failed: num("FailedCall(C)"),
		Retrans: num("Retransmissions(C)"), Unexpected: num("FailedUnexpectedMessage(C)"),
		TimeoutRecv: num("FailedTimeoutOnRecv(C)"), RTD: map[string]time.Duration{}}
	for _, h := range header {
		if name, ok := strings.CutPrefix(h, "ResponseTime"); ok && strings.HasSuffix(name, "(C)") &&
			!strings.Contains(name, "StDev") && !strings.Contains(name, "Repartition") {
			s.RTD[strings.TrimSuffix(name, "(C)")] = parseSippDuration(col(h))
		}
	}
	return s, nil
}

// received sums the columns of sipp's -trace_counts file (the last line)
// that count status received, e.g. "503": one column per <recv> of it.
func (p *sippProc) received(status string) (int, error) {
	files, _ := filepath.Glob(filepath.Join(p.dir, "*_counts.csv"))
	if len(files) == 0 {
		return 0, fmt.Errorf("sipp %s: no -trace_counts file", p.name)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		return 0, fmt.Errorf("sipp %s counts: %w", p.name, err)
	}
	return sumReceived(string(data), status), nil
}

// sumReceived adds up, in the last line of a -trace_counts CSV, every
// column named <index>_<status>_Recv.
func sumReceived(csv, status string) int {
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if len(lines) < 2 {
		return 0
	}
	header, last := strings.Split(lines[0], ";"), strings.Split(lines[len(lines)-1], ";")
	n := 0
	for i, h := range header {
		f := strings.Split(strings.TrimSpace(h), "_")
		if len(f) == 3 && f[1] == status && f[2] == "Recv" && i < len(last) {
			v, _ := strconv.Atoi(strings.TrimSpace(last[i]))
			n += v
		}
	}
	return n
}

// parseSippDuration reads sipp's "HH:MM:SS:uuuuuu".
func parseSippDuration(s string) time.Duration {
	f := strings.Split(s, ":")
	if len(f) != 4 {
		return 0
	}
	var n [4]int
	for i, x := range f {
		n[i], _ = strconv.Atoi(x)
	}
	return time.Duration(n[0])*time.Hour + time.Duration(n[1])*time.Minute +
		time.Duration(n[2])*time.Second + time.Duration(n[3])*time.Microsecond
}

// errorLines returns the first lines of sipp's error log, for the report.
func (p *sippProc) errorLines(n int) []string {
	data, err := os.ReadFile(filepath.Join(p.dir, "errors.log"))
	if err != nil {
		return nil
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && len(out) < n {
			out = append(out, l)
		}
	}
	return out
}

// portAllocator hands out free loopback UDP ports, never the same twice.
type portAllocator struct {
	used map[int]bool
}

// block returns the first of n consecutive ports free on 127.0.0.1 now.
func (a *portAllocator) block(n int) (int, error) {
	for range 500 {
		l, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		base := l.LocalAddr().(*net.UDPAddr).Port
		l.Close()
		if base+n > 65535 || !a.free(base, n) {
			continue
		}
		for p := base; p < base+n; p++ {
			a.used[p] = true
		}
		return base, nil
	}
	return 0, fmt.Errorf("no %d consecutive free UDP ports on 127.0.0.1", n)
}

func (a *portAllocator) free(base, n int) bool {
	var held []net.PacketConn
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	for p := base; p < base+n; p++ {
		if a.used[p] {
			return false
		}
		c, err := net.ListenPacket("udp4", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			return false
		}
		held = append(held, c)
	}
	return true
}
