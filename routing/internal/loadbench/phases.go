package main

import (
	"context"
	"fmt"
	"path/filepath"
	"time"
)

// result is one phase's line in the report.
type result struct {
	Name      string
	Offered   int           // per second
	Total     int           // calls (or REGISTERs) the phase asked for
	OK        int           // successful, as sipp's caller side counts them
	Failed    int           // failed or never completed (caller side)
	PhoneFail int           // failed or missing calls on the phones' side
	Elapsed   time.Duration // the load sipp's run time
	Setup     time.Duration // mean rtd: REGISTER -> 200, or INVITE -> first 180
	Retrans   int           // retransmissions seen by the load sipp
	Peak      procSample    // daemon after the phase (peak since the phase began)
	PeakPhase bool          // false: the peak is since the daemon started
	CPU       time.Duration // daemon CPU time spent in the phase
	Refused   int           // calls the daemon refused with 503 (overload phase)
	RSS       []int64       // VmRSS (kB) each second (soak phase)
	Notes     []string
}

// measure runs fn between two samples of the daemon's /proc entry.
func (b *bench) measure(fn func() (result, error)) (result, error) {
	pid := b.d.cmd.Process.Pid
	reset := resetPeak(pid)
	before, err := sampleProc(pid)
	if err != nil {
		return result{}, err
	}
	r, err := fn()
	if err != nil {
		return r, err
	}
	after, err := sampleProc(pid)
	if err != nil {
		return r, err
	}
	r.Peak, r.PeakPhase, r.CPU = after, reset, after.CPU-before.CPU
	return r, nil
}

// phaseBound is how long a load of n at rate/s may take, with slack.
func phaseBound(n, rate int) time.Duration {
	return time.Duration(n/max(rate, 1))*time.Second + 30*time.Second
}

// registerPhase: REGISTER with digest auth (401, then the authenticated
// REGISTER) for regUsers users in turn, regCount times at regRate/s.
func (b *bench) registerPhase(ctx context.Context) (result, error) {
	o := b.opts
	port, err := b.ports.block(1)
	if err != nil {
		return result{}, err
	}
	media, err := b.ports.block(4)
	if err != nil {
		return result{}, err
	}
	lines := make([]string, o.regUsers)
	for i := range lines {
		// The contact is the load sipp itself: nothing calls these users.
		lines[i] = csvLine(regUserExt(i), b.pw[regUserExt(i)], port)
	}
	csv := filepath.Join(b.work, "reg-users.csv")
	if err := writeCSV(csv, lines); err != nil {
		return result{}, err
	}
	return b.measure(func() (result, error) {
		p, err := b.startSipp(sippRun{Name: "register-load", Scenario: b.scenario("reg.xml"), Remote: b.remote,
			Port: port, Media: media, Calls: o.regCount, Rate: o.regRate, Inf: csv,
			Keys: map[string]string{"expires": "3600"}, Bound: phaseBound(o.regCount, o.regRate)})
		if err != nil {
			return result{}, err
		}
		p.wait(ctx)
		r := result{Name: fmt.Sprintf("REGISTER+digest (%d users)", o.regUsers), Offered: o.regRate, Total: o.regCount}
		return r, fillLoad(&r, p, "reg")
	})
}

// fillLoad copies the load sipp's counters into r.
func fillLoad(r *result, p *sippProc, rtd string) error {
	st, err := p.stats()
	if err != nil {
		return err
	}
	r.OK, r.Retrans, r.Elapsed = st.Successful, st.Retrans, p.ended.Sub(p.started)
	r.Failed = r.Total - st.Successful // failed, and never started or finished
	r.Setup = st.RTD[rtd]
	if p.watchdogFired() {
		r.Notes = append(r.Notes, p.name+": stopped by the watchdog")
	}
	if st.Unexpected > 0 || st.TimeoutRecv > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%s: %d unexpected messages, %d receive timeouts",
			p.name, st.Unexpected, st.TimeoutRecv))
	}
	if r.Failed > 0 {
		for _, l := range p.errorLines(3) {
			r.Notes = append(r.Notes, p.name+" error log: "+l)
		}
	}
	return nil
}

// callLoad is a call phase: phones registered for the extensions, one
// of them answering, and a caller dialling target.
type callLoad struct {
	name     string
	label    string
	target   string           // dialled extension
	phones   int              // sipp UAS processes
	ext      func(int) string // the extension phone i registers as
	rate     int
	calls    int
	hold     time.Duration
	overload bool // the caller takes 503s (counted as refused); the phones see only the calls let in
	sample   bool // sample the daemon's RSS every second
}

// forkPhase and deptPhase describe round 0, 1, … of the call phases.
func forkPhase(o options, round int) callLoad {
	return callLoad{name: roundName("fork5", "-r", round),
		label:  roundName("user with 5 phones (1 answers, 4 CANCELled)", " #", round),
		target: forkExt, phones: forkPhones, ext: func(int) string { return forkExt },
		rate: o.forkRate, calls: o.forkCalls, hold: o.hold}
}

func deptPhase(o options, round int) callLoad {
	return callLoad{name: roundName("dept25", "-r", round),
		label:  roundName("department of 25 (1 answers, 24 CANCELled)", " #", round),
		target: deptExt, phones: deptPhones, ext: operatorExt,
		rate: o.deptRate, calls: o.deptCalls, hold: o.hold}
}

// dept50Phase is the department with two phones per operator: a 50-branch
// fork (Kamailio's limit is 30 branches per transaction).
func dept50Phase(o options, round int) callLoad {
	return callLoad{name: roundName("dept50", "-r", round),
		label:  roundName("department of 25, 2 phones each (1 answers, 49 CANCELled)", " #", round),
		target: deptExt, phones: 2 * deptPhones, ext: func(i int) string { return operatorExt(i / 2) },
		rate: o.deptRate, calls: o.deptCalls, hold: o.hold}
}

// overloadPhase offers the department calls faster than they can be
// served: the daemon must refuse the excess with 503 and keep memory
// bounded; recoveryPhase right after must see no failure.
func overloadPhase(o options) callLoad {
	l := deptPhase(o, 0)
	l.name, l.label = "overload", fmt.Sprintf("overload: department at %d/s (503s are refusals)", o.overRate)
	l.rate, l.calls, l.overload = o.overRate, o.overCalls, true
	return l
}

func recoveryPhase(o options) callLoad {
	l := deptPhase(o, 0)
	l.name, l.label = "recovery", "department right after the overload"
	l.rate, l.calls = 5, 50
	return l
}

// soakPhase calls the department at a low rate for o.soak, sampling RSS.
func soakPhase(o options) callLoad {
	l := deptPhase(o, 0)
	l.name, l.label = "soak", fmt.Sprintf("soak: department at %d/s for %v", o.soakRate, o.soak)
	l.rate, l.calls, l.sample = o.soakRate, max(int(o.soak.Seconds())*o.soakRate, 1), true
	return l
}

// roundName is s for the first round and s+sep+N for round N (from 2).
func roundName(s, sep string, round int) string {
	if round == 0 {
		return s
	}
	return fmt.Sprintf("%s%s%d", s, sep, round+1)
}
