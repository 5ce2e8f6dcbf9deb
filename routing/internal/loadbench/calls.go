package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// callPhase starts the phones, registers them (and the caller), then
// measures the daemon while one authenticated caller places l.calls calls
// at l.rate/s; each is answered by phone 1 and CANCELled on the others.
func (b *bench) callPhase(ctx context.Context, l callLoad) (result, error) {
	bound := phaseBound(l.calls, l.rate)
	phones, regLines, err := b.startPhones(l, bound+10*time.Second)
	if err != nil {
		return result{}, err
	}
	callerPort, err := b.ports.block(1)
	if err != nil {
		return result{}, err
	}
	callerMedia, err := b.ports.block(4)
	if err != nil {
		return result{}, err
	}
	callerLine := csvLine(callerExt, b.pw[callerExt], callerPort)
	regLines = append(regLines, callerLine)
	if err := b.registerPhones(ctx, l, regLines); err != nil {
		return result{}, err
	}
	callerCSV := filepath.Join(b.work, l.name+"-caller.csv")
	if err := writeCSV(callerCSV, []string{callerLine}); err != nil {
		return result{}, err
	}
	// Unregister afterwards: a later round's phones must not share the
	// user with dead contacts.
	defer func() {
		if err := b.registerLines(ctx, l.name+"-unregister", regLines, 0); err != nil {
			fmt.Fprintf(os.Stderr, "loadbench: %v\n", err)
		}
	}()
	scen := "uac_call.xml"
	if l.overload {
		scen = "uac_call_shed.xml"
	}
	return b.measure(func() (result, error) {
		caller, err := b.startSipp(sippRun{Name: l.name + "-caller", Scenario: b.scenario(scen),
			Remote: b.remote, Port: callerPort, Media: callerMedia, Calls: l.calls, Rate: l.rate,
			Service: l.target, Inf: callerCSV, Hold: l.hold, Bound: bound, Counts: l.overload})
		if err != nil {
			return result{}, err
		}
		var rss []int64
		if l.sample {
			stop := b.sampleRSS(&rss)
			caller.wait(ctx)
			stop()
		} else {
			caller.wait(ctx)
		}
		r := result{Name: l.label, Offered: l.rate, Total: l.calls, RSS: rss}
		if l.overload {
			// The phones saw only the calls let in: they wait for the rest.
			for _, p := range phones {
				p.stop()
			}
			if err := fillLoad(&r, caller, "ring"); err != nil {
				return r, err
			}
			r.Refused, err = caller.received("503")
			r.OK -= r.Refused // sipp counts an ACKed 503 as a successful call
			return r, err
		}
		// The phones finish their last call (1 s timewait) shortly after.
		grace, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for _, p := range phones {
			p.wait(grace)
		}
		if err := fillLoad(&r, caller, "ring"); err != nil {
			return r, err
		}
		return r, b.phoneFailures(&r, phones, l.calls)
	})
}

// sampleRSS appends the daemon's VmRSS (kB) to *out every second until the
// returned stop is called.
func (b *bench) sampleRSS(out *[]int64) (stop func()) {
	pid := b.d.cmd.Process.Pid
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if s, err := sampleProc(pid); err == nil {
					*out = append(*out, s.RSSKB)
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// startPhones starts one sipp UAS per phone: phone 1 answers after
// 200 ms, the others ring until CANCELled. It returns their CSV lines.
func (b *bench) startPhones(l callLoad, bound time.Duration) ([]*sippProc, []string, error) {
	var phones []*sippProc
	var lines []string
	for i := range l.phones {
		port, err := b.ports.block(1)
		if err != nil {
			return nil, nil, err
		}
		media, err := b.ports.block(4)
		if err != nil {
			return nil, nil, err
		}
		scen := "uas_noanswer.xml"
		if i == 0 {
			scen = "uas_answer.xml"
		}
		p, err := b.startSipp(sippRun{Name: fmt.Sprintf("%s-phone%02d", l.name, i+1), Scenario: b.scenario(scen),
			Port: port, Media: media, Calls: l.calls, Bound: bound})
		if err != nil {
			return nil, nil, err
		}
		phones = append(phones, p)
		lines = append(lines, csvLine(l.ext(i), b.pw[l.ext(i)], port))
	}
	return phones, lines, nil
}

// registerPhones registers every line's contact (one REGISTER each) and
// checks the daemon lists them: l.phones bindings in all for l's users.
func (b *bench) registerPhones(ctx context.Context, l callLoad, lines []string) error {
	if err := b.registerLines(ctx, l.name+"-register", lines, 3600); err != nil {
		return err
	}
	n, err := b.d.bindings(ctx)
	if err != nil {
		return err
	}
	got := 0
	for i := range l.phones {
		if i == 0 || l.ext(i) != l.ext(i-1) {
			got += n[userOfExt(l.ext(i))]
		}
	}
	if got != l.phones {
		return fmt.Errorf("%s: %d phones registered, want %d (registrations per user: %v)", l.name, got, l.phones, n)
	}
	return nil
}

// registerLines sends one REGISTER (with digest auth) per CSV line;
// expires 0 removes the bindings again.
func (b *bench) registerLines(ctx context.Context, name string, lines []string, expires int) error {
	csv := filepath.Join(b.work, name+".csv")
	if err := writeCSV(csv, lines); err != nil {
		return err
	}
	port, err := b.ports.block(1)
	if err != nil {
		return err
	}
	media, err := b.ports.block(4)
	if err != nil {
		return err
	}
	p, err := b.startSipp(sippRun{Name: name, Scenario: b.scenario("reg.xml"), Remote: b.remote,
		Port: port, Media: media, Calls: len(lines), Rate: 50, Inf: csv,
		Keys: map[string]string{"expires": strconv.Itoa(expires)}, Bound: 15 * time.Second})
	if err != nil {
		return err
	}
	if code := p.wait(ctx); code != 0 {
		return fmt.Errorf("%s: sipp exit %d %v", name, code, p.errorLines(5))
	}
	return nil
}

// userOfExt maps a generated extension back to its user id.
func userOfExt(ext string) string {
	if ext == forkExt {
		return forkID
	}
	for i := range deptPhones {
		if operatorExt(i) == ext {
			return operatorID(i)
		}
	}
	return ""
}

// phoneFailures adds the phones' failed and missing calls to r.
func (b *bench) phoneFailures(r *result, phones []*sippProc, calls int) error {
	for _, p := range phones {
		st, err := p.stats()
		if err != nil {
			return err
		}
		if bad := calls - st.Successful; bad > 0 {
			r.PhoneFail += bad
			if len(r.Notes) < 8 {
				r.Notes = append(r.Notes, fmt.Sprintf("%s: %d of %d calls not completed (%d failed, %d unexpected)",
					p.name, bad, calls, st.Failed, st.Unexpected))
			}
		}
	}
	return nil
}
