package fork

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

func reasonOf(r *sip.Request) string {
	if h := r.GetHeader("Reason"); h != nil {
		return h.Value()
	}
	return ""
}

func TestExecuteOneAnswers(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{final: 200, after: 150 * time.Millisecond})
	p2 := newPhone(t, "p2", behaviour{})
	p3 := newPhone(t, "p3", behaviour{})
	asst := branchTo(p3)
	asst.OnBehalfOf, asst.DisplayName, asst.HistoryInfo = "p1", "Alice Caller for P One", "<sip:1001@hq.test>;index=1,<sip:1003@hq.test>;index=1.1;mp=1"
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{branchTo(p1), branchTo(p2), asst}}, "")
	c := newCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()

	status, sess := c.call(ctx, t, px.port)
	if status != 200 {
		t.Fatalf("caller got %d (%v), want 200", status, c.responses())
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
	for _, p := range []*phone{p2, p3} {
		if got := reasonOf(p.await(t, "CANCEL")); got != reasonElsewhere {
			t.Errorf("%s CANCEL Reason = %q, want %q", p.name, got, reasonElsewhere)
		}
	}
	p1.await(t, "ACK") // the caller's ACK followed our Record-Route
	out := px.result(t)
	if out.Status != 200 || out.Result != ResultAnswered || out.Answered.User != "p1" {
		t.Errorf("outcome = %+v, want 200 answered by p1", out)
	}
	if p1.find("CANCEL") != nil {
		t.Errorf("the answering phone got a CANCEL")
	}
	if !slices.Contains(c.responses(), 180) {
		t.Errorf("caller responses %v: no 180 relayed", c.responses())
	}
	checkBranchRequests(t, p1, p3)
	log := px.eventLog()
	for _, want := range []string{"ringing p1 180", "answered p1 200", "ended  200", "branch_ended p2 487", "branch_ended p3 487"} {
		if !slices.Contains(log, want) {
			t.Errorf("events %q: missing %q", log, want)
		}
	}
}

// checkBranchRequests checks what the proxy sent: Via and Record-Route
// added, Max-Forwards decremented, the assistant's rewrites on its branch
// only.
func checkBranchRequests(t *testing.T, own, asst *phone) {
	t.Helper()
	inv := own.find("INVITE")
	if n := len(inv.GetHeaders("Via")); n != 2 {
		t.Errorf("INVITE has %d Via, want 2 (ours and the caller's)", n)
	}
	if rr := inv.RecordRoute(); rr == nil || !strings.Contains(rr.Value(), ";lr") {
		t.Errorf("INVITE Record-Route = %v, want ours with lr", rr)
	}
	if mf := inv.MaxForwards(); mf == nil || mf.Val() != 69 {
		t.Errorf("Max-Forwards = %v, want 69", mf)
	}
	if inv.Recipient.User != own.name {
		t.Errorf("Request-URI = %s, want the contact", inv.Recipient.String())
	}
	if got := inv.From().DisplayName; got != "Alice Caller" {
		t.Errorf("own branch From display = %q, want the caller's", got)
	}
	if inv.GetHeader("History-Info") != nil {
		t.Errorf("own branch has History-Info")
	}
	a := asst.find("INVITE")
	if got := a.From().DisplayName; got != "Alice Caller for P One" {
		t.Errorf("assistant From display = %q", got)
	}
	if h := a.GetHeader("History-Info"); h == nil || !strings.Contains(h.Value(), "index=1.1") {
		t.Errorf("assistant History-Info = %v", h)
	}
}

// TestExecuteAssistantResponsesCarryCallerFrom: the assistant branch's
// From display-name rewrite stays on that branch; the responses relayed
// to the caller carry the caller's own From (RFC 3261 §8.2.6.2, §16.7).
func TestExecuteAssistantResponsesCarryCallerFrom(t *testing.T) {
	p := newPhone(t, "p1", behaviour{final: 200, after: 50 * time.Millisecond})
	asst := branchTo(p)
	asst.OnBehalfOf, asst.DisplayName = "exec", "Alice Caller for Eve Exec"
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{asst}}, "")
	c := newCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	status, sess := c.call(ctx, t, px.port)
	if status != 200 {
		t.Fatalf("caller got %d, want 200", status)
	}
	if err := sess.Ack(ctx); err != nil {
		t.Fatalf("ack: %v", err)
	}
	if got := p.find("INVITE").From().DisplayName; got != "Alice Caller for Eve Exec" {
		t.Errorf("assistant branch From display = %q", got)
	}
	froms := c.fromHeaders()
	if len(froms) < 2 {
		t.Fatalf("caller got responses %v, want 180 and 200", c.responses())
	}
	sent := sess.InviteRequest.From().Value()
	for i, f := range froms {
		if f != sent {
			t.Errorf("response %d (%d) From = %q, want the caller's %q", i, c.responses()[i], f, sent)
		}
	}
	px.result(t)
}

func TestExecuteAllBusy(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{final: 486, after: 50 * time.Millisecond})
	p2 := newPhone(t, "p2", behaviour{ringAfter: -1, final: 486, after: 80 * time.Millisecond})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{branchTo(p1), branchTo(p2)}}, "")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	status, _ := newCaller(t).call(ctx, t, px.port)
	if status != 486 {
		t.Fatalf("caller got %d, want 486", status)
	}
	out := px.result(t)
	if out.Status != 486 || out.Result != ResultDeclined {
		t.Errorf("outcome = %+v, want 486 declined", out)
	}
	for _, p := range []*phone{p1, p2} {
		if p.find("CANCEL") != nil {
			t.Errorf("%s got a CANCEL after failing", p.name)
		}
	}
}

func TestExecuteTimeout(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{})
	p2 := newPhone(t, "p2", behaviour{ringAfter: 50 * time.Millisecond})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 400 * time.Millisecond,
		Branches: []ringplan.Branch{branchTo(p1), branchTo(p2)}}, "")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	status, _ := newCaller(t).call(ctx, t, px.port)
	if status != 480 {
		t.Fatalf("caller got %d, want 480", status)
	}
	for _, p := range []*phone{p1, p2} {
		if got := reasonOf(p.await(t, "CANCEL")); got != "" {
			t.Errorf("%s CANCEL Reason = %q, want none (a missed call)", p.name, got)
		}
	}
	out := px.result(t)
	if out.Status != 480 || !out.TimedOut || out.Result != ResultMissed {
		t.Errorf("outcome = %+v, want 480 timed out missed", out)
	}
}

func TestExecuteTimeoutFallbackThroughTrunk(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{})
	vm := newPhone(t, "vm", behaviour{final: 200, after: 50 * time.Millisecond})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 300 * time.Millisecond,
		Fallback: "sip:vm-1001@voicemail.example.test", Branches: []ringplan.Branch{branchTo(p1)}}, vm.addr)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	status, sess := newCaller(t).call(ctx, t, px.port)
	if status != 200 {
		t.Fatalf("caller got %d, want 200 from the fallback", status)
	}
	_ = sess.Ack(ctx)
	p1.await(t, "CANCEL")
	inv := vm.await(t, "INVITE")
	if got := inv.Recipient.String(); got != "sip:vm-1001@voicemail.example.test" {
		t.Errorf("fallback Request-URI = %s", got)
	}
	out := px.result(t)
	if out.Status != 200 || out.Fallback == "" || out.Result != ResultMissed || !out.TimedOut {
		t.Errorf("outcome = %+v, want 200 via fallback, missed for the callee", out)
	}
}

// TestExecuteFallbackWithoutTrunk: without a trunk the daemon forwards to
// the no_answer / closed URI's host itself (never a 302 the caller would
// have to follow through us); when that fails the caller gets 480 with a
// reason phrase saying why.
func TestExecuteFallbackWithoutTrunk(t *testing.T) {
	vm := newPhone(t, "vm", behaviour{final: 200, after: 30 * time.Millisecond})
	closed := freeTCPPort(t)
	tests := []struct {
		name       string
		plan       func(fb string, p1 *phone) ringplan.Plan
		fallback   string
		wantStatus int
		wantReason string
		wantVM     bool
	}{
		{name: "no answer goes to the voicemail host", fallback: "sip:vm-1001@" + vm.addr, wantStatus: 200, wantVM: true,
			plan: func(fb string, p1 *phone) ringplan.Plan {
				return ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second, Fallback: fb,
					Branches: []ringplan.Branch{branchTo(p1)}}
			}},
		{name: "closed goes to the voicemail host", fallback: "sip:vm-1001@" + vm.addr, wantStatus: 200, wantVM: true,
			plan: func(fb string, _ *phone) ringplan.Plan {
				return ringplan.Plan{Action: ringplan.ActionRedirect, Redirect: fb}
			}},
		{name: "unreachable voicemail: 480 saying so", fallback: fmt.Sprintf("sip:vm@127.0.0.1:%d;transport=tcp", closed),
			wantStatus: 480, wantReason: fmt.Sprintf("Cannot Reach 127.0.0.1:%d", closed),
			plan: func(fb string, _ *phone) ringplan.Plan {
				return ringplan.Plan{Action: ringplan.ActionRedirect, Redirect: fb}
			}},
		{name: "not a SIP URI: 480 saying so", fallback: "tel:+15551230000", wantStatus: 480,
			wantReason: "Forwarding Target Not A SIP URI",
			plan: func(fb string, p1 *phone) ringplan.Plan {
				return ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second, Fallback: fb,
					Branches: []ringplan.Branch{branchTo(p1)}}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p1 := newPhone(t, "p1", behaviour{final: 480, after: 30 * time.Millisecond})
			before := vm.count("INVITE")
			px := newProxy(t, tc.plan(tc.fallback, p1), "")
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			status, sess := newCaller(t).call(ctx, t, px.port)
			if status != tc.wantStatus {
				t.Fatalf("caller got %d (%v), want %d", status, sess.InviteResponse, tc.wantStatus)
			}
			if tc.wantReason != "" && sess.InviteResponse.Reason != tc.wantReason {
				t.Errorf("reason %q, want %q", sess.InviteResponse.Reason, tc.wantReason)
			}
			if status == 200 {
				_ = sess.Ack(ctx)
			}
			if got := vm.count("INVITE") - before; got != map[bool]int{true: 1}[tc.wantVM] {
				t.Errorf("voicemail got %d INVITEs", got)
			}
			if tc.wantVM {
				var inv *sip.Request
				vm.mu.Lock()
				for _, r := range vm.reqs {
					if r.Method == sip.INVITE {
						inv = r
					}
				}
				vm.mu.Unlock()
				if inv.Recipient.String() != tc.fallback {
					t.Errorf("voicemail Request-URI = %s, want %s", inv.Recipient.String(), tc.fallback)
				}
			}
			out := px.result(t)
			if out.Status != tc.wantStatus || out.Fallback != tc.fallback {
				t.Errorf("outcome = %+v", out)
			}
		})
	}
}

// freeTCPPort is a loopback TCP port nothing listens on.
func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

func TestExecuteCallerCancel(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{})
	p2 := newPhone(t, "p2", behaviour{})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{branchTo(p1), branchTo(p2)}}, "")
	c := newCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	callCtx, hangUp := context.WithCancel(ctx)
	go func() { // hang up once both phones ring
		p1.await(t, "INVITE")
		p2.await(t, "INVITE")
		time.Sleep(100 * time.Millisecond)
		hangUp()
	}()
	status, _ := c.call(callCtx, t, px.port)
	if status != 487 {
		t.Errorf("caller got %d (%v), want 487", status, c.responses())
	}
	for _, p := range []*phone{p1, p2} {
		if got := reasonOf(p.await(t, "CANCEL")); got != reasonCaller {
			t.Errorf("%s CANCEL Reason = %q, want %q", p.name, got, reasonCaller)
		}
	}
	out := px.result(t)
	if out.Status != 487 || !out.Cancelled || out.Result != ResultMissed {
		t.Errorf("outcome = %+v, want 487 cancelled missed", out)
	}
}

func TestExecuteDecline(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{})
	p2 := newPhone(t, "p2", behaviour{final: 603, after: 150 * time.Millisecond})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{branchTo(p1), branchTo(p2)}}, "")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	status, _ := newCaller(t).call(ctx, t, px.port)
	if status != 603 {
		t.Fatalf("caller got %d, want 603", status)
	}
	p1.await(t, "CANCEL")
	if out := px.result(t); out.Status != 603 || out.Result != ResultDeclined {
		t.Errorf("outcome = %+v, want 603 declined", out)
	}
}

// Two phones answer: the second 2xx arrives after the first went upstream
// and is ACKed and BYEd by the proxy. p2 sends no 1xx, so it cannot be
// CANCELled before its 200 (RFC 3261 §9.1); p3 rings late and is CANCELled
// on its first 1xx.
func TestExecuteTwoAnswer(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{final: 200, after: 50 * time.Millisecond, repeat: true})
	p2 := newPhone(t, "p2", behaviour{ringAfter: -1, final: 200, after: 150 * time.Millisecond, repeat: true})
	p3 := newPhone(t, "p3", behaviour{ringAfter: 400 * time.Millisecond})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{branchTo(p1), branchTo(p2), branchTo(p3)}}, "")
	c := newCaller(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	status, sess := c.call(ctx, t, px.port)
	if status != 200 {
		t.Fatalf("caller got %d, want 200", status)
	}
	_ = sess.Ack(ctx)
	p2.await(t, "ACK")
	p2.await(t, "BYE")
	if got := reasonOf(p3.await(t, "CANCEL")); got != reasonElsewhere {
		t.Errorf("p3 CANCEL Reason = %q", got)
	}
	out := px.result(t)
	if out.Status != 200 || out.Answered.User != "p1" {
		t.Errorf("outcome = %+v, want answered by p1", out)
	}
	n := 0
	for _, s := range c.responses() {
		if s == 200 {
			n++
		}
	}
	if n != 1 {
		t.Errorf("caller got %d 200s (%v), want exactly one", n, c.responses())
	}
	if p1.find("BYE") != nil {
		t.Errorf("the winner got a BYE")
	}
	// Each phone sent its 2xx twice: the winner's retransmission was relayed
	// and re-ACKed by the caller, the loser's re-ACKed by the proxy.
	waitFor(t, func() bool { return p1.count("ACK") == 2 && p2.count("ACK") == 2 }, func() string {
		return fmt.Sprintf("ACKs: p1 %d, p2 %d, want 2 each", p1.count("ACK"), p2.count("ACK"))
	})
	// Both 2xx transactions ended at their 2xx: the retransmissions were
	// answered from the records they left.
	if n := px.exec.LiveTransactions(); n != 0 {
		t.Errorf("%d branch transactions live after the call, want 0", n)
	}
}

func waitFor(t *testing.T, ok func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestExecuteShutdown(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{})
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{branchTo(p1)}}, "")
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	go func() {
		p1.await(t, "INVITE")
		time.Sleep(100 * time.Millisecond)
		px.stop()
	}()
	status, _ := newCaller(t).call(ctx, t, px.port)
	if status != 503 {
		t.Errorf("caller got %d, want 503", status)
	}
	p1.await(t, "CANCEL")
	select {
	case r := <-px.results:
		if !errors.Is(r.err, context.Canceled) || r.out.Status != 503 {
			t.Errorf("Execute = %+v, %v; want 503 and context.Canceled", r.out, r.err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Execute did not return")
	}
	noCallGoroutines(t)
}

func TestExecuteTrunkAndReject(t *testing.T) {
	trunk := newPhone(t, "trunk", behaviour{final: 486, after: 20 * time.Millisecond})
	tests := []struct {
		name   string
		plan   ringplan.Plan
		trunk  string
		status int
	}{
		{name: "outside number to the trunk", plan: ringplan.Plan{Action: ringplan.ActionTrunk, Number: "+15550100"}, trunk: trunk.addr, status: 486},
		{name: "outside number without a trunk", plan: ringplan.Plan{Action: ringplan.ActionTrunk, Number: "+15550100"}, status: 404},
		{name: "reject", plan: ringplan.Plan{Action: ringplan.ActionReject, Status: 480, Reason: "Temporarily Unavailable"}, status: 480},
		{name: "zero plan is an error", plan: ringplan.Plan{}, status: 500},
		{name: "fork with nobody", plan: ringplan.Plan{Action: ringplan.ActionFork}, status: 480},
		{name: "unparsable contact fails that branch", plan: ringplan.Plan{Action: ringplan.ActionFork,
			Branches: []ringplan.Branch{{User: "x", Contact: ringplan.Contact{URI: "sip:"}}}}, status: 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			px := newProxy(t, tt.plan, tt.trunk)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			status, _ := newCaller(t).call(ctx, t, px.port)
			if status != tt.status {
				t.Errorf("caller got %d, want %d", status, tt.status)
			}
			select {
			case r := <-px.results:
				if r.out.Status != tt.status {
					t.Errorf("outcome status %d, want %d", r.out.Status, tt.status)
				}
				if (r.err != nil) != (tt.plan.Action == 0) {
					t.Errorf("Execute error = %v", r.err)
				}
			case <-time.After(testTimeout):
				t.Fatal("Execute did not return")
			}
		})
	}
	inv := trunk.await(t, "INVITE")
	if inv.Recipient.User != "+15550100" || inv.Recipient.Port != trunk.port {
		t.Errorf("trunk Request-URI = %s", inv.Recipient.String())
	}
}

// TestExecuteRecordRouteHook: with a RecordRoute hook every leg carries
// the hook's entries for that leg (top first) instead of sipgo's plain one.
func TestExecuteRecordRouteHook(t *testing.T) {
	p1 := newPhone(t, "p1", behaviour{final: 486, after: 20 * time.Millisecond})
	p2 := newPhone(t, "p2", behaviour{final: 486, after: 20 * time.Millisecond})
	var mu sync.Mutex
	var legs []Leg
	hook := func(l Leg) []*sip.RecordRouteHeader {
		mu.Lock()
		legs = append(legs, l)
		mu.Unlock()
		top := sip.Uri{Scheme: "sip", Host: "127.0.0.1", UriParams: sip.NewParams()}
		top.UriParams.Add("leg", l.Branch.User)
		bottom := sip.Uri{Scheme: "sip", Host: "127.0.0.1", UriParams: sip.NewParams()}
		bottom.UriParams.Add("second", "")
		return []*sip.RecordRouteHeader{{Address: top}, {Address: bottom}}
	}
	px := newProxy(t, ringplan.Plan{Action: ringplan.ActionFork, Timeout: 5 * time.Second,
		Branches: []ringplan.Branch{branchTo(p1), branchTo(p2)}}, "", hook)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	if status, _ := newCaller(t).call(ctx, t, px.port); status != 486 {
		t.Fatalf("caller got %d, want 486", status)
	}
	px.result(t)
	for _, p := range []*phone{p1, p2} {
		rr := p.find("INVITE").GetHeaders("Record-Route")
		if len(rr) != 2 || !strings.Contains(rr[0].Value(), "leg="+p.name) || !strings.Contains(rr[1].Value(), "second") {
			t.Errorf("%s: Record-Route %v, want the hook's two entries for its leg", p.name, rr)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(legs) != 2 || legs[0].Trunk || legs[0].Transport != "UDP" || legs[0].Dest != p1.contact().Source {
		t.Errorf("legs %+v", legs)
	}
}
