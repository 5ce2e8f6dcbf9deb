package fork

import (
	"context"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// testTimeout bounds every wait in the integration tests.
const testTimeout = 10 * time.Second

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// node is a sipgo UA listening on 127.0.0.1:0/udp.
type node struct {
	ua   *sipgo.UserAgent
	srv  *sipgo.Server
	pc   net.PacketConn
	addr string
	port int
}

func newNode(t testing.TB, name string, opts ...sipgo.UserAgentOption) *node {
	t.Helper()
	ua, err := sipgo.NewUA(append([]sipgo.UserAgentOption{sipgo.WithUserAgent(name)}, opts...)...)
	if err != nil {
		t.Fatalf("new UA: %v", err)
	}
	srv, err := sipgo.NewServer(ua, sipgo.WithServerLogger(quietLog()))
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	n := &node{ua: ua, srv: srv, pc: pc, addr: pc.LocalAddr().String(), port: pc.LocalAddr().(*net.UDPAddr).Port}
	t.Cleanup(func() {
		_ = ua.Close()
		_ = pc.Close()
	})
	return n
}

// serve starts the listener. Call it after every handler and field the
// handlers read is set: UDP does not order memory for the race detector.
func (n *node) serve(t testing.TB) {
	done := make(chan struct{})
	go func() { defer close(done); _ = n.srv.ServeUDP(n.pc) }()
	t.Cleanup(func() {
		_ = n.ua.Close()
		_ = n.pc.Close()
		<-done
	})
}

// proxy is the UA under test: its INVITE handler runs Execute with the plan
// the test gives it; it forwards the caller's ACK along Record-Route.
type proxy struct {
	*node
	cli     *sipgo.Client
	exec    *Executor
	plan    ringplan.Plan
	results chan execResult
	stop    context.CancelFunc // ends the ctx Execute runs with (daemon shutdown)

	mu     sync.Mutex
	events []Event
	quiet  bool            // keep no events (benchmarks: the log would be most of the heap)
	strays []*sip.Response // responses the executor did not take
}

type execResult struct {
	out Outcome
	err error
}

func newProxy(t testing.TB, plan ringplan.Plan, trunk string, rr ...RecordRoute) *proxy {
	t.Helper()
	p := &proxy{plan: plan, results: make(chan execResult, 1)}
	// Branch INVITE responses reach the executor through the transaction
	// layer's unhandled-response handler, as in routing.
	p.node = newNode(t, "proxy", sipgo.WithUserAgentTransactionLayerOptions(
		sip.WithTransactionLayerUnhandledResponseHandler(func(r *sip.Response) {
			if !p.exec.HandleResponse(r) {
				p.stray(r)
			}
		})))
	cli, err := sipgo.NewClient(p.ua, sipgo.WithClientHostname("127.0.0.1"), sipgo.WithClientPort(p.port),
		sipgo.WithClientLogger(quietLog()))
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	p.cli = cli
	laddr := sip.Addr{IP: net.IPv4(127, 0, 0, 1), Port: p.port}
	p.exec = New(Options{
		Client: cli,
		Log:    quietLog(),
		Laddr:  func(tp string) (sip.Addr, bool) { return laddr, tp == "UDP" },
		Trunk:  func() (string, string, bool) { return trunk, "udp", trunk != "" },
		Events: p.record,
		Linger: 3 * time.Second,
	})
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	p.stop = cancel
	p.srv.OnInvite(func(req *sip.Request, tx sip.ServerTransaction) {
		out, err := p.exec.Execute(ctx, req, tx, p.plan, rr...)
		p.results <- execResult{out, err}
	})
	p.srv.OnAck(p.forwardAck)
	p.serve(t)
	return p
}

func (p *proxy) stray(r *sip.Response) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.strays = append(p.strays, r)
}

// strayResponses lists the responses the executor did not take, as
// "status method".
func (p *proxy) strayResponses() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.strays {
		out = append(out, strconv.Itoa(r.StatusCode)+" "+string(r.CSeq().MethodName))
	}
	return out
}

func (p *proxy) record(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.quiet {
		p.events = append(p.events, ev)
	}
}

// keepNoEvents stops the event log (set under mu: the executor reports
// from sipgo's goroutines, which the race detector sees no order with).
func (p *proxy) keepNoEvents() {
	p.mu.Lock()
	p.quiet = true
	p.mu.Unlock()
}

// eventLog lists the events as "kind user status".
func (p *proxy) eventLog() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, ev := range p.events {
		out = append(out, ev.Kind.String()+" "+ev.Branch.User+" "+strconv.Itoa(ev.Status))
	}
	return out
}

// forwardAck is a minimal loose router for the caller's 2xx ACK.
func (p *proxy) forwardAck(req *sip.Request, _ sip.ServerTransaction) {
	fwd := req.Clone()
	if rt := fwd.Route(); rt != nil && rt.Address.Port == p.port {
		fwd.RemoveHeader("Route")
	}
	fwd.SetDestination(hostPort(fwd.Recipient, "UDP"))
	if rt := fwd.Route(); rt != nil {
		fwd.SetDestination(hostPort(rt.Address, "UDP"))
	}
	fwd.Laddr = sip.Addr{IP: net.IPv4(127, 0, 0, 1), Port: p.port}
	_ = p.cli.WriteRequest(fwd, sipgo.ClientRequestAddVia)
}

// result waits for Execute to return and checks it left no goroutine.
func (p *proxy) result(t testing.TB) Outcome {
	t.Helper()
	select {
	case r := <-p.results:
		if r.err != nil {
			t.Errorf("Execute: %v", r.err)
		}
		noCallGoroutines(t)
		return r.out
	case <-time.After(testTimeout):
		t.Fatal("Execute did not return")
	}
	return Outcome{}
}

// noCallGoroutines fails if a goroutine of a call is still running.
func noCallGoroutines(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "routing/fork.(*call)") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("call goroutines left after Execute:\n%s", stacks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// behaviour scripts a phone's answer to an INVITE.
type behaviour struct {
	ringAfter time.Duration // send 180 after this; 0 = at once; <0 = never
	final     int           // final status; 0 = none (ring until CANCEL)
	after     time.Duration // delay before the final
	repeat    bool          // send a 2xx twice, as a phone whose ACK was lost does
}

// phone is a sipgo UA that answers INVITEs as its behaviour says and
// records every request it gets.
type phone struct {
	*node
	name string
	b    behaviour

	mu   sync.Mutex
	reqs []*sip.Request
	seen chan string // method of every request, buffered
}

func newPhone(t testing.TB, name string, b behaviour) *phone {
	t.Helper()
	p := &phone{node: newNode(t, name), name: name, b: b, seen: make(chan string, 64)}
	p.srv.OnInvite(p.onInvite)
	p.srv.OnAck(func(req *sip.Request, _ sip.ServerTransaction) { p.record(req) })
	p.srv.OnBye(func(req *sip.Request, tx sip.ServerTransaction) {
		p.record(req)
		_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	})
	p.serve(t)
	return p
}

func (p *phone) record(req *sip.Request) {
	p.mu.Lock()
	p.reqs = append(p.reqs, req)
	p.mu.Unlock()
	select {
	case p.seen <- req.Method.String():
	default:
	}
}

func (p *phone) contact() ringplan.Contact {
	return ringplan.Contact{User: p.name, URI: "sip:" + p.name + "@" + p.addr, Source: p.addr, Transport: "udp"}
}

func (p *phone) onInvite(req *sip.Request, tx sip.ServerTransaction) {
	p.record(req)
	cancelled := make(chan struct{})
	tx.OnCancel(func(c *sip.Request) {
		p.record(c)
		close(cancelled)
	})
	tagged := req.Clone() // one To-tag for every response (docs/libraries.md §1.3)
	tagged.To().Params.Add("tag", sip.GenerateTagN(8))
	wait := func(d time.Duration) bool {
		select {
		case <-time.After(d):
			return true
		case <-cancelled:
		case <-tx.Done():
		}
		return false
	}
	if p.b.ringAfter >= 0 {
		if !wait(p.b.ringAfter) {
			return
		}
		_ = tx.Respond(sip.NewResponseFromRequest(tagged, 180, "Ringing", nil))
	}
	if p.b.final == 0 {
		wait(testTimeout)
		return
	}
	if !wait(p.b.after) {
		return
	}
	res := sip.NewResponseFromRequest(tagged, p.b.final, "Scripted", nil)
	if p.b.final < 300 {
		res.AppendHeader(&sip.ContactHeader{Address: sip.Uri{Scheme: "sip", User: p.name, Host: "127.0.0.1", Port: p.port}})
	}
	_ = tx.Respond(res)
	if p.b.repeat && p.b.final < 300 && wait(100*time.Millisecond) {
		_ = tx.Respond(res)
	}
}

// await waits until the phone got a request with that method.
func (p *phone) await(t testing.TB, method string) *sip.Request {
	t.Helper()
	deadline := time.After(testTimeout)
	for {
		if r := p.find(method); r != nil {
			return r
		}
		select {
		case <-p.seen:
		case <-deadline:
			t.Fatalf("phone %s got no %s; got %v", p.name, method, p.methods())
			return nil
		}
	}
}

// count returns how many requests with that method the phone got.
func (p *phone) count(method string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, r := range p.reqs {
		if r.Method.String() == method {
			n++
		}
	}
	return n
}

func (p *phone) find(method string) *sip.Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, r := range p.reqs {
		if r.Method.String() == method {
			return r
		}
	}
	return nil
}

func (p *phone) methods() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.reqs {
		out = append(out, r.Method.String())
	}
	return out
}

// caller is a sipgo UA placing one call through the proxy.
type caller struct {
	*node
	dua   *sipgo.DialogUA
	mu    sync.Mutex
	resp  []int
	froms []string // From of every response, as received
}

func newCaller(t testing.TB) *caller {
	t.Helper()
	n := newNode(t, "caller")
	cli, err := sipgo.NewClient(n.ua, sipgo.WithClientLogger(quietLog()))
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	c := &caller{node: n}
	c.dua = &sipgo.DialogUA{Client: cli, ContactHDR: sip.ContactHeader{
		Address: sip.Uri{Scheme: "sip", User: "caller", Host: "127.0.0.1", Port: n.port}}}
	n.serve(t)
	return c
}

// call INVITEs the proxy and waits for the final response; ctx ending
// first CANCELs. It returns the final status (0 if none) and the session.
func (c *caller) call(ctx context.Context, t testing.TB, proxyPort int) (int, *sipgo.DialogClientSession) {
	t.Helper()
	from := &sip.FromHeader{DisplayName: "Alice Caller", Address: sip.Uri{Scheme: "sip", User: "alice", Host: "127.0.0.1"},
		Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(8))
	sess, err := c.dua.Invite(ctx, sip.Uri{Scheme: "sip", User: "1001", Host: "127.0.0.1", Port: proxyPort}, nil, from)
	if err != nil {
		t.Fatalf("invite: %v", err)
	}
	t.Cleanup(func() { _ = sess.Close() })
	_ = sess.WaitAnswer(ctx, sipgo.AnswerOptions{OnResponse: func(r *sip.Response) error {
		c.mu.Lock()
		c.resp = append(c.resp, r.StatusCode)
		if f := r.From(); f != nil {
			c.froms = append(c.froms, f.Value())
		}
		c.mu.Unlock()
		return nil
	}})
	if sess.InviteResponse == nil || sess.InviteResponse.IsProvisional() {
		return 0, sess
	}
	return sess.InviteResponse.StatusCode, sess
}

// fromHeaders returns the From header of every response received.
func (c *caller) fromHeaders() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.froms...)
}

func (c *caller) responses() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.resp...)
}

func branchTo(p *phone) ringplan.Branch {
	return ringplan.Branch{Contact: p.contact(), User: p.name}
}
