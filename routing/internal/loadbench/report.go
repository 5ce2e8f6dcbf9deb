package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// printResults writes the report table and each phase's notes.
func printResults(w io.Writer, b *bench, results []result) {
	if len(results) == 0 {
		return
	}
	pinned := "not pinned"
	if b.daemonCPUs != "" {
		pinned = fmt.Sprintf("deskgated on CPU %s, sipp on CPU %s", b.daemonCPUs, b.loadCPUs)
	}
	fmt.Fprintf(w, "\ndeskgated SIP load (sipp over UDP on 127.0.0.1, %d CPUs, %s, answered calls held %v)\n\n",
		runtime.NumCPU(), pinned, b.opts.hold)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\toffered/s\tdone\tok\trefused\tfailed\tphone fails\tachieved/s\tmean setup\tretrans\tpeak RSS\tRSS after (anon)\tCPU\tCPU per op\t")
	for _, r := range results {
		perSec := 0.0
		if r.Elapsed > 0 {
			perSec = float64(r.OK) / r.Elapsed.Seconds()
		}
		perOp := "-"
		if r.OK > 0 {
			perOp = fmt.Sprintf("%.2f ms", float64(r.CPU.Microseconds())/1000/float64(r.OK))
		}
		peak := mib(r.Peak.PeakKB)
		if !r.PeakPhase {
			peak += " (since start)"
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f\t%s\t%d\t%s\t%s\t%.2f s\t%s\t\n",
			r.Name, r.Offered, r.Total, r.OK, r.Refused, r.Failed, r.PhoneFail, perSec, ms(r.Setup), r.Retrans,
			peak, mib(r.Peak.RSSKB)+" ("+mib(r.Peak.AnonKB)+")", r.CPU.Seconds(), perOp)
	}
	tw.Flush()
	fmt.Fprint(w, `
  achieved/s = successful / the load sipp's run time (includes the last call's length).
  mean setup = sipp's mean (ms steps) REGISTER -> 200 with the 401 round, or INVITE -> first 180
    with the 407 round and the fork.
  peak RSS = deskgated's VmHWM during the phase (reset at its start, so it includes memory the Go
    runtime kept from earlier phases); anon = RssAnon (heap, stacks), the rest is mostly bbolt's mmap.
  CPU = deskgated utime+stime during the phase; per op = per successful REGISTER or call.
  refused = calls the daemon shed with 503 + Retry-After (overload phase only; ok = answered).
`)
	for _, r := range results {
		if line := rssTrend(r.RSS); line != "" {
			fmt.Fprintf(w, "  %s: %s\n", r.Name, line)
		}
	}
	for _, r := range results {
		for _, n := range r.Notes {
			fmt.Fprintf(w, "  note (%s): %s\n", r.Name, n)
		}
	}
	if warn := daemonWarnings(b); warn != "" {
		fmt.Fprintln(w, warn)
	}
}

// rssTrend summarises RSS samples taken each second: the mean of the first
// and of the last 10, and the maximum. Flat means no leak.
func rssTrend(kb []int64) string {
	if len(kb) == 0 {
		return ""
	}
	mean := func(xs []int64) int64 {
		var t int64
		for _, x := range xs {
			t += x
		}
		return t / int64(len(xs))
	}
	n := min(10, len(kb))
	return fmt.Sprintf("RSS first %ds %s, last %ds %s, max %s (%d samples)",
		n, mib(mean(kb[:n])), n, mib(mean(kb[len(kb)-n:])), mib(slices.Max(kb)), len(kb))
}

func mib(kb int64) string { return fmt.Sprintf("%.1f MiB", float64(kb)/1024) }

// ms prints sipp's mean response time, which has millisecond steps.
func ms(d time.Duration) string {
	if d < time.Millisecond {
		return "<1 ms"
	}
	return fmt.Sprintf("%.0f ms", float64(d.Microseconds())/1000)
}

// daemonWarnings summarises what deskgated logged at warn or error level.
func daemonWarnings(b *bench) string {
	data, err := os.ReadFile(b.d.log)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) == 1 && lines[0] == "" {
		return "  deskgated logged no warnings or errors"
	}
	out := fmt.Sprintf("  deskgated logged %d warning/error lines; first: %s", len(lines), lines[0])
	return out
}
