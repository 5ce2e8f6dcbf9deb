package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
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
	if _, err := probe.WriteToUDP(floodRequest("INVITE", -1, probe.LocalAddr().String()), remote); err != nil {
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
	r.Sent, err = sendFlood(fctx, fl, remote, o.floodRate)
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

// sendFlood sends REGISTER, INVITE and SUBSCRIBE in turn at up to rate per
// second until ctx ends.
func sendFlood(ctx context.Context, c *net.UDPConn, remote *net.UDPAddr, rate int) (int, error) {
	methods := []string{"REGISTER", "INVITE", "SUBSCRIBE"}
	const slice = 10 * time.Millisecond
	perSlice := max(rate/int(time.Second/slice), 1)
	local := c.LocalAddr().String()
	sent := 0
	for next := time.Now(); ctx.Err() == nil; next = next.Add(slice) {
		for range perSlice {
			if _, err := c.WriteToUDP(floodRequest(methods[sent%3], sent, local), remote); err != nil {
				return sent, fmt.Errorf("flood: %w", err)
			}
			sent++
		}
		if d := time.Until(next.Add(slice)); d > 0 {
			time.Sleep(d)
		}
	}
	return sent, nil
}

// floodRequest is request i of the flood: out of dialog, no credentials,
// its own Call-ID and branch.
func floodRequest(method string, i int, local string) []byte {
	id := "flood-" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	to, ruri := "sip:"+forkExt+"@"+domain, "sip:"+forkExt+"@"+domain
	if method == "REGISTER" {
		to, ruri = "sip:"+callerExt+"@"+domain, "sip:"+domain
	}
	lines := []string{
		method + " " + ruri + " SIP/2.0",
		"Via: SIP/2.0/UDP " + local + ";rport;branch=z9hG4bK-" + id,
		"Max-Forwards: 70",
		"From: <sip:" + callerExt + "@" + domain + ">;tag=f" + strconv.Itoa(i),
		"To: <" + to + ">",
		"Call-ID: " + id,
		"CSeq: 1 " + method,
		"Contact: <sip:" + callerExt + "@" + local + ">",
	}
	switch method {
	case "REGISTER":
		lines = append(lines, "Expires: 600")
	case "SUBSCRIBE":
		lines = append(lines, "Event: dialog", "Accept: application/dialog-info+xml", "Expires: 600")
	}
	lines = append(lines, "User-Agent: loadbench-flood", "Content-Length: 0", "", "")
	return []byte(strings.Join(lines, "\r\n"))
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
