package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"deskgate/routing/sipptest"
)

// floodResult is the flood phase's report: RSS before, during and after a
// flood of unauthenticated requests, and how many answers one unACKed
// INVITE drew (1 = a stateless 407; a stateful one is retransmitted until
// Timer H, 11 times).
type floodResult struct {
	Offered  int           // per second
	Duration time.Duration // of the flood
	Sent     int
	Answers  int64 // datagrams back to the flood socket
	Before   procSample
	Peak     int64 // VmRSS, kB, highest sample during the flood
	Right    procSample
	After    []floodSample // at floodWatch steps after the flood
	Probe    int64         // responses to the unACKed INVITE
	CPU      time.Duration
}

type floodSample struct {
	At     time.Duration
	Sample procSample
}

// floodPhase sends o.floodRate/s unauthenticated REGISTER, INVITE and
// SUBSCRIBE (each a new transaction) for o.flood from one UDP socket, and
// samples the daemon's RSS before, every 100 ms during, and every
// o.floodWatch/3 for o.floodWatch after.
func (b *bench) floodPhase(ctx context.Context) (floodResult, error) {
	o := b.opts
	r := floodResult{Offered: o.floodRate, Duration: o.flood}
	pid := b.d.cmd.Process.Pid
	remote, err := net.ResolveUDPAddr("udp4", b.remote)
	if err != nil {
		return r, err
	}
	fl, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return r, fmt.Errorf("flood socket: %w", err)
	}
	defer fl.Close()
	probe, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return r, fmt.Errorf("probe socket: %w", err)
	}
	defer probe.Close()
	var answers, probed atomic.Int64
	go drain(fl, &answers)
	go drain(probe, &probed)

	if r.Before, err = sampleProc(pid); err != nil {
		return r, err
	}
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	flood := sipptest.Flood{Domain: domain, From: callerExt, To: forkExt, UserAgent: "loadbench-flood", IDPrefix: "flood-" + run + "-"}
	probeFlood := flood
	probeFlood.IDPrefix = "probe-" + run + "-"
	if _, err := probe.WriteToUDP(probeFlood.Request(1, probe.LocalAddr().String()), remote); err != nil { // 1: an INVITE
		return r, fmt.Errorf("probe: %w", err)
	}
	fctx, cancel := context.WithTimeout(ctx, o.flood)
	defer cancel()
	peak := make(chan int64, 1)
	go func() {
		var p int64
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-fctx.Done():
				peak <- p
				return
			case <-t.C:
				if s, err := sampleProc(pid); err == nil {
					p = max(p, s.RSSKB)
				}
			}
		}
	}()
	r.Sent, err = flood.Send(fctx, fl, remote, o.floodRate)
	r.Peak = <-peak
	if err != nil {
		return r, err
	}
	if r.Right, err = sampleProc(pid); err != nil {
		return r, err
	}
	r.Peak = max(r.Peak, r.Right.RSSKB)
	step := o.floodWatch / 3
	for i := 1; i <= 3 && step > 0; i++ {
		select {
		case <-ctx.Done():
			return r, ctx.Err()
		case <-time.After(step):
		}
		s, err := sampleProc(pid)
		if err != nil {
			return r, err
		}
		r.After = append(r.After, floodSample{At: time.Duration(i) * step, Sample: s})
	}
	last := r.Right
	if len(r.After) > 0 {
		last = r.After[len(r.After)-1].Sample
	}
	r.CPU = last.CPU - r.Before.CPU
	r.Answers, r.Probe = answers.Load(), probed.Load()
	return r, nil
}

// drain counts datagrams on c until it is closed.
func drain(c *net.UDPConn, n *atomic.Int64) {
	buf := make([]byte, 65535)
	for {
		if _, _, err := c.ReadFromUDP(buf); err != nil {
			return
		}
		n.Add(1)
	}
}

func printFlood(w io.Writer, r floodResult) {
	fmt.Fprintf(w, "\nflood: unauthenticated REGISTER/INVITE/SUBSCRIBE over UDP from one loopback socket, %d/s offered for %v\n",
		r.Offered, r.Duration)
	fmt.Fprintf(w, "  sent %d (%.0f/s), %d answers back; deskgated CPU %.2f s\n",
		r.Sent, float64(r.Sent)/r.Duration.Seconds(), r.Answers, r.CPU.Seconds())
	fmt.Fprintf(w, "  RSS before %s (anon %s), peak during %s, right after %s (anon %s)",
		mib(r.Before.RSSKB), mib(r.Before.AnonKB), mib(r.Peak), mib(r.Right.RSSKB), mib(r.Right.AnonKB))
	for _, s := range r.After {
		fmt.Fprintf(w, ", +%v %s (anon %s)", s.At, mib(s.Sample.RSSKB), mib(s.Sample.AnonKB))
	}
	fmt.Fprintf(w, "\n  answers to one INVITE never ACKed: %d (1 = a stateless 407, never retransmitted)\n", r.Probe)
}
