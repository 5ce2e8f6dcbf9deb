// Package main (loadbench, run by `make bench`) owns the SIP load run
// against the built deskgated: it writes a generated office and config into
// a temp dir, starts build/bin/deskgated on free 127.0.0.1 ports, gets the
// passwords with deskgatectl, and drives sipp through the phases —
// REGISTER with digest auth (2000 users, 20000 REGISTERs at 2000/s), calls
// to a user with 5 phones (one answers, four are CANCELled), calls to a
// 25-operator department (one answers, 24 CANCELled; 1000 at 50/s), the
// same department with two phones per operator (a 50-branch fork),
// overload (the department at 200 calls/s: the daemon must refuse with
// 503 rather than stall, and serve again right after) and a soak at 5
// calls/s with RSS sampled every second — reporting per phase the rate
// achieved, failures, and the daemon's peak RSS and CPU time from /proc;
// then a flood of unauthenticated requests, reporting RSS before, during
// and after it. Every process it starts is
// bounded in time and stopped by PID. It builds nothing and must not import
// deskgate packages: it measures the binaries.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// options are the command-line flags.
type options struct {
	bin       string
	scenarios string
	regUsers  int
	regRate   int
	regCount  int
	forkRate  int
	forkCalls int
	deptRate  int
	deptCalls int
	dept50    bool
	overRate  int
	overCalls int
	soak      time.Duration
	soakRate  int
	rounds    int
	hold      time.Duration
	limit     time.Duration
	keep      bool

	flood      time.Duration
	floodRate  int
	floodWatch time.Duration
	floodOnly  bool
	only       string // comma-separated phase names; "" = all
	pin        bool   // daemon on CPU 0, sipp on the others
}

func parseFlags() options {
	var o options
	flag.StringVar(&o.bin, "bin", "build/bin", "directory with the built deskgated and deskgatectl")
	flag.StringVar(&o.scenarios, "scenarios", "routing/testdata/sipp", "directory with the sipp scenarios")
	flag.IntVar(&o.regUsers, "reg-users", 2000, "users in the REGISTER load (CSV cycles through them)")
	flag.IntVar(&o.regRate, "reg-rate", 2000, "REGISTERs per second offered (each: 401 challenge, then 200)")
	flag.IntVar(&o.regCount, "reg-count", 20000, "REGISTERs in total")
	flag.IntVar(&o.forkRate, "fork-rate", 50, "calls per second offered to the user with 5 phones")
	flag.IntVar(&o.forkCalls, "fork-calls", 1500, "calls to the user with 5 phones")
	flag.IntVar(&o.deptRate, "dept-rate", 50, "calls per second offered to the 25-operator department")
	flag.IntVar(&o.deptCalls, "dept-calls", 1000, "calls to the department")
	flag.BoolVar(&o.dept50, "dept50", true, "also call the department with two phones per operator (50 branches), same rate and count")
	flag.IntVar(&o.overRate, "overload-rate", 200, "calls per second offered to the department in the overload phase (0 = skip it)")
	flag.IntVar(&o.overCalls, "overload-calls", 2000, "calls in the overload phase")
	flag.DurationVar(&o.soak, "soak", time.Minute, "length of the soak at -soak-rate with RSS sampled every second (0 = skip it)")
	flag.IntVar(&o.soakRate, "soak-rate", 5, "calls per second to the department in the soak")
	flag.IntVar(&o.rounds, "rounds", 1, "run the two call phases this many times (a peak that keeps growing points at a leak)")
	flag.DurationVar(&o.hold, "hold", 100*time.Millisecond, "how long each answered call lasts before the BYE")
	flag.DurationVar(&o.limit, "max", 10*time.Minute, "bound on the whole run, besides the -soak time")
	flag.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, sipp stats) for inspection")
	flag.DurationVar(&o.flood, "flood", 10*time.Second, "length of the closing flood of unauthenticated requests (0 = none)")
	flag.IntVar(&o.floodRate, "flood-rate", 6000, "requests per second offered during the flood")
	flag.DurationVar(&o.floodWatch, "flood-watch", 30*time.Second, "how long RSS is watched after the flood")
	flag.BoolVar(&o.floodOnly, "flood-only", false, "run only the flood phase")
	flag.StringVar(&o.only, "only", "", "run only these phases, comma-separated: register, fork5, dept25, dept50, overload (with its recovery), soak, flood")
	flag.BoolVar(&o.pin, "pin", true, "with 2 CPUs or more, run deskgated on CPU 0 and sipp on the others (as a box whose phones are elsewhere sees it; needs taskset)")
	flag.Parse()
	return o
}

func main() {
	o := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.limit+o.soak)
	defer cancel()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "loadbench:", err)
		os.Exit(1)
	}
}

// bench is one run: its work dir, ports, and every process it started.
type bench struct {
	opts   options
	bin    string
	sipp   string
	scen   string
	work   string
	ports  portAllocator
	d      *daemonProc
	remote string
	pw     map[string]string // extension -> SIP password
	// CPU lists for taskset ("" = not pinned): the daemon's and sipp's.
	daemonCPUs, loadCPUs string

	mu    sync.Mutex
	stops []func()
}

// track remembers how to stop a process; cleanup stops all, newest first.
func (b *bench) track(stop func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stops = append(b.stops, stop)
}

func (b *bench) cleanup() {
	b.mu.Lock()
	stops := b.stops
	b.stops = nil
	b.mu.Unlock()
	var wg sync.WaitGroup
	for i := len(stops) - 1; i >= 0; i-- {
		wg.Go(stops[i])
	}
	wg.Wait()
}

func run(ctx context.Context, o options) error {
	b, err := newBench(o)
	if err != nil {
		return err
	}
	defer func() {
		b.cleanup()
		if o.keep {
			fmt.Printf("work directory kept: %s\n", b.work)
		} else {
			os.RemoveAll(b.work)
		}
	}()
	sipPort, err := b.ports.block(1)
	if err != nil {
		return err
	}
	cfg, err := writeSetup(b.work, o.regUsers, sipPort)
	if err != nil {
		return err
	}
	b.remote = fmt.Sprintf("127.0.0.1:%d", sipPort)
	if b.d, err = b.startDaemon(ctx, cfg); err != nil {
		return err
	}
	if err := b.fetchPasswords(ctx); err != nil {
		return err
	}
	var phases []func(context.Context) (result, error)
	call := func(l callLoad) func(context.Context) (result, error) {
		return func(ctx context.Context) (result, error) { return b.callPhase(ctx, l) }
	}
	for round := range max(o.rounds, 1) {
		if o.floodOnly {
			break
		}
		if round == 0 && o.wants("register") {
			phases = append(phases, b.registerPhase)
		}
		if o.wants("fork5") {
			phases = append(phases, call(forkPhase(o, round)))
		}
		if o.wants("dept25") {
			phases = append(phases, call(deptPhase(o, round)))
		}
		if o.dept50 && o.wants("dept50") {
			phases = append(phases, call(dept50Phase(o, round)))
		}
	}
	if o.overRate > 0 && !o.floodOnly && o.wants("overload") {
		phases = append(phases, call(overloadPhase(o)), call(recoveryPhase(o)))
	}
	if o.soak > 0 && !o.floodOnly && o.wants("soak") {
		phases = append(phases, call(soakPhase(o)))
	}
	var results []result
	for _, ph := range phases {
		if ctx.Err() != nil {
			printResults(os.Stdout, b, results)
			return fmt.Errorf("stopped before the next phase (-max %v or a signal): %w", o.limit, context.Cause(ctx))
		}
		r, err := ph(ctx)
		if err != nil {
			printResults(os.Stdout, b, results)
			return err
		}
		results = append(results, r)
		if b.d.exited() {
			return fmt.Errorf("deskgated exited during %s (%v); log:\n%s", r.Name, b.d.err, b.d.logTail(20))
		}
	}
	var fr *floodResult
	if o.flood > 0 && o.wants("flood") {
		r, err := b.floodPhase(ctx)
		if err != nil {
			printResults(os.Stdout, b, results)
			return fmt.Errorf("flood phase: %w", err)
		}
		if b.d.exited() {
			return fmt.Errorf("deskgated exited during the flood (%v); log:\n%s", b.d.err, b.d.logTail(20))
		}
		fr = &r
	}
	b.d.stop()
	printResults(os.Stdout, b, results)
	if fr != nil {
		printFlood(os.Stdout, *fr)
	}
	if b.d.err != nil {
		return fmt.Errorf("deskgated did not stop cleanly on SIGTERM: %v", b.d.err)
	}
	return nil
}

func newBench(o options) (*bench, error) {
	sippBin, err := exec.LookPath("sipp")
	if err != nil {
		return nil, errors.New("sipp not on PATH: install it (apt-get install sip-tester, or `make test-deps`)")
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return nil, fmt.Errorf("bin dir: %w", err)
	}
	for _, name := range []string{"deskgated", "deskgatectl"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return nil, fmt.Errorf("%s not built (run `make build`): %w", name, err)
		}
	}
	scen, err := filepath.Abs(o.scenarios)
	if err != nil {
		return nil, fmt.Errorf("scenarios dir: %w", err)
	}
	for _, name := range []string{"reg.xml", "uac_call.xml", "uas_answer.xml", "uas_noanswer.xml"} {
		if _, err := os.Stat(filepath.Join(scen, name)); err != nil {
			return nil, fmt.Errorf("scenario %s (run from the repository root or set -scenarios): %w", name, err)
		}
	}
	work, err := os.MkdirTemp("", "deskgate-loadbench-")
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	b := &bench{opts: o, bin: bin, sipp: sippBin, scen: scen, work: work,
		ports: portAllocator{used: map[int]bool{}}, pw: map[string]string{}}
	if n := runtime.NumCPU(); o.pin && n >= 2 {
		if _, err := exec.LookPath("taskset"); err != nil {
			fmt.Fprintln(os.Stderr, "loadbench: taskset not on PATH (util-linux): not pinning")
		} else {
			b.daemonCPUs, b.loadCPUs = "0", fmt.Sprintf("1-%d", n-1)
		}
	}
	return b, nil
}

// command is name with args, run on cpus (a taskset CPU list) when set.
// taskset sets the affinity and execs name, so the PID is name's and every
// thread it starts inherits the affinity.
func command(cpus, name string, args ...string) *exec.Cmd {
	if cpus == "" {
		return exec.Command(name, args...)
	}
	return exec.Command("taskset", append([]string{"-c", cpus, name}, args...)...)
}

// fetchPasswords asks deskgatectl for every generated user's password.
func (b *bench) fetchPasswords(ctx context.Context) error {
	ids := map[string]string{callerID: callerExt, forkID: forkExt}
	for i := range deptPhones {
		ids[operatorID(i)] = operatorExt(i)
	}
	for i := range b.opts.regUsers {
		ids[regUserID(i)] = regUserExt(i)
	}
	// Four deskgatectl at a time: thousands of users one after the other
	// take minutes on a small box.
	type job struct{ id, ext string }
	jobs := make(chan job)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for j := range jobs {
				pw, err := b.d.password(ctx, j.id)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				b.pw[j.ext] = pw
				mu.Unlock()
			}
		})
	}
	for id, ext := range ids {
		jobs <- job{id, ext}
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

func (b *bench) scenario(name string) string { return filepath.Join(b.scen, name) }

// wants reports whether phase name is to run (-only).
func (o options) wants(name string) bool {
	return o.only == "" || slices.Contains(strings.Split(o.only, ","), name)
}
