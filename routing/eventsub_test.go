package routing

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
	"github.com/icholy/digest"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
	"deskgate/routing/events"
)

// keysOffice has an operator of two departments, an executive with an
// active and a pending assistant, and a plain user.
const keysOffice = `
	version: "keys"
	plan: pro
	timezone: UTC
	users:
	  - {id: alice, name: Alice Able, extension: "1001", license: talk}
	  - {id: bob, name: Bob Baker, extension: "1002", license: talk}
	  - {id: olga, name: Olga Ops, extension: "1020", license: talk}
	  - {id: erin, name: Erin Exec, extension: "1010", numbers: ["+15551230010"], license: talk}
	  - {id: amy, name: Amy Asst, extension: "1011", license: talk}
	  - {id: pat, name: Pat Pending, extension: "1013", license: talk}
	departments:
	  - {id: support, name: Support, extension: "2000", operators: [olga]}
	  - {id: sales, name: Sales, extension: "2100", operators: [olga, alice]}
	pairings:
	  - {executive: erin, assistant: amy, state: active}
	  - {executive: erin, assistant: pat, state: pending}
`

// notifySink answers every request the server sends with status (200
// unless set) and records it.
type notifySink struct {
	mu     sync.Mutex
	reqs   []*sip.Request
	status int
}

func (n *notifySink) install(s *Server) {
	s.cli.TxRequester = &siptest.ClientTxRequester{OnRequest: func(req *sip.Request) *sip.Response {
		n.mu.Lock()
		n.reqs = append(n.reqs, req.Clone())
		code := n.status
		n.mu.Unlock()
		if code == 0 {
			code = 200
		}
		return sip.NewResponseFromRequest(req, code, "X", nil)
	}}
}

func (n *notifySink) all() []*sip.Request {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*sip.Request(nil), n.reqs...)
}

// wait returns the first count NOTIFYs once they are there (at most 5 s).
func (n *notifySink) wait(t *testing.T, count int) []*sip.Request {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		all := n.all()
		if len(all) >= count {
			return all
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d NOTIFYs after 5s, want %d", len(all), count)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keysServer is a testServer on keysOffice with the presence feed running
// and NOTIFYs captured.
func keysServer(t *testing.T) (*Server, *notifySink) {
	t.Helper()
	snap := directorytest.MustParse(t, keysOffice)
	s := testServer(t, func(o *Options) {
		o.Directory = func() *directory.Snapshot { return snap }
		o.Now = time.Now
	})
	sink := &notifySink{}
	sink.install(s)
	feed, stop := s.presence.Subscribe(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.presenceLoop(ctx, feed); close(done) }()
	t.Cleanup(func() { cancel(); stop(); <-done; s.senders.stop(time.Now().Add(5 * time.Second)) })
	return s, sink
}

// subMsg is one SUBSCRIBE from ext's phone; extra headers and a body may
// be added; toTag != "" makes it an in-dialog request.
type subMsg struct {
	ruser, ext, user, event, toTag, callID string
	contact                                string // Contact host:port; default 192.0.2.10:5062
	expires                                int
	cseq                                   int
	headers                                []string
	body                                   string
	noAuth                                 bool
}

func (m subMsg) raw(t *testing.T, s *Server) []byte {
	t.Helper()
	to := "<sip:" + m.ruser + "@test.example>"
	if m.toTag != "" {
		to += ";tag=" + m.toTag
	}
	lines := []string{
		"SUBSCRIBE sip:" + m.ruser + "@test.example SIP/2.0",
		"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-" + sip.GenerateBranchN(8) + ";rport",
		"Max-Forwards: 70",
		"From: <sip:" + m.ext + "@test.example>;tag=ft-" + m.ext,
		"To: " + to,
		"Call-ID: " + cmpOr(m.callID, "sub-"+m.ext+"-"+m.ruser),
		"CSeq: " + strconv.Itoa(max(m.cseq, 1)) + " SUBSCRIBE",
		"Contact: <sip:" + m.ext + "@" + cmpOr(m.contact, "192.0.2.10:5062") + ">",
	}
	if m.event != "" {
		lines = append(lines, "Event: "+m.event)
	}
	lines = append(lines, "Expires: "+strconv.Itoa(m.expires))
	lines = append(lines, m.headers...)
	if !m.noAuth && m.toTag == "" {
		c, err := s.opts.Store.Credential(m.user, m.ext)
		if err != nil {
			t.Fatal(err)
		}
		ch := &digest.Challenge{Realm: "test.example", Nonce: testNonce(s), Algorithm: "MD5", QOP: []string{"auth"}}
		cred, err := digest.Digest(ch, digest.Options{Method: "SUBSCRIBE", URI: "sip:" + m.ruser + "@test.example",
			Username: m.ext, Password: c.Password, Count: 1, Cnonce: "abc"})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, "Proxy-Authorization: "+cred.String())
	}
	lines = append(lines, "Content-Length: "+strconv.Itoa(len(m.body)), "", m.body)
	return []byte(strings.Join(lines, "\r\n"))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// exchange runs a raw request through the server and returns its final
// response.
func exchange(t *testing.T, s *Server, raw []byte) *sip.Response {
	t.Helper()
	msg, err := sip.ParseMessage(raw)
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, raw)
	}
	req := msg.(*sip.Request)
	req.SetSource("192.0.2.10:5062")
	req.SetTransport("UDP")
	rec := siptest.NewServerTxRecorder(req)
	defer rec.Terminate()
	s.handle(req, rec)
	for _, r := range rec.Result() {
		if r.StatusCode >= 200 {
			return r
		}
	}
	t.Fatalf("no final response to\n%s", raw)
	return nil
}

func status(r *sip.Response) string { return strconv.Itoa(r.StatusCode) + " " + r.Reason }

func TestSubscribeServed(t *testing.T) {
	tests := []struct {
		name       string
		msg        subMsg
		want       string // status line
		wantHeader string // "Name: value" the response must carry
		body       string // substring of the first NOTIFY's body; "" = no NOTIFY expected
		state      string // its Subscription-State
	}{
		{name: "own DND key", msg: subMsg{ruser: "1001", ext: "1001", user: "alice", event: "as-feature-event", expires: 600},
			want: "200 OK", wantHeader: "Expires: 600", body: "<doNotDisturbOn>false</doNotDisturbOn>", state: "active;expires=600"},
		{name: "another user's DND key", msg: subMsg{ruser: "1002", ext: "1001", user: "alice", event: "as-feature-event", expires: 600},
			want: "403 Not Your Feature Keys"},
		{name: "DND key set in the SUBSCRIBE body", msg: subMsg{ruser: "1002", ext: "1002", user: "bob", event: "as-feature-event",
			expires: 600, headers: []string{"Content-Type: " + events.FeatureContentType},
			body: `<SetDoNotDisturb xmlns="` + events.CSTANamespace + `"><device>1002</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>`},
			want: "200 OK", body: "<doNotDisturbOn>true</doNotDisturbOn>", state: "active;expires=600"},
		{name: "away key of an operated department", msg: subMsg{ruser: "away-2000", ext: "1020", user: "olga", event: "dialog", expires: 3600},
			want: "200 OK", body: `entity="sip:away-2000@test.example"`, state: "active;expires=3600"},
		{name: "away key of a department not operated", msg: subMsg{ruser: "away-2000", ext: "1001", user: "alice", event: "dialog", expires: 3600},
			want: "403 Not An Operator Of support"},
		{name: "away-all key without departments", msg: subMsg{ruser: "away", ext: "1002", user: "bob", event: "dialog", expires: 3600},
			want: "403 Not An Operator"},
		{name: "away key of an unknown department", msg: subMsg{ruser: "away-2999", ext: "1020", user: "olga", event: "dialog", expires: 3600},
			want: "404 Unknown Department"},
		{name: "BLF on a user, expiry clamped", msg: subMsg{ruser: "1010", ext: "1002", user: "bob", event: "dialog", expires: 86400},
			want: "200 OK", wantHeader: "Expires: 3600", body: `entity="sip:1010@test.example"`, state: "active;expires=3600"},
		{name: "BLF on a department number", msg: subMsg{ruser: "2100", ext: "1002", user: "bob", event: "dialog", expires: 600},
			want: "200 OK", body: `state="full"`, state: "active;expires=600"},
		{name: "BLF on an unknown extension", msg: subMsg{ruser: "1999", ext: "1002", user: "bob", event: "dialog", expires: 600},
			want: "404 Not Found"},
		{name: "no Event header", msg: subMsg{ruser: "1010", ext: "1002", user: "bob", expires: 600}, want: "489 Bad Event"},
		{name: "shared call appearance of a line not one's own", msg: subMsg{ruser: "1010", ext: "1002", user: "bob", event: "call-info", expires: 600},
			want: "403 Not On This Line"},
		{name: "line-seize of a department not operated", msg: subMsg{ruser: "2100", ext: "1002", user: "bob", event: "line-seize", expires: 600},
			want: "403 Not On This Line"},
		{name: "shared call appearance of an unknown line", msg: subMsg{ruser: "2999", ext: "1020", user: "olga", event: "call-info", expires: 600},
			want: "404 Not Found"},
		{name: "Accept without dialog-info", msg: subMsg{ruser: "1010", ext: "1002", user: "bob", event: "dialog", expires: 600,
			headers: []string{"Accept: application/pidf+xml"}}, want: "406 Not Acceptable", wantHeader: "Accept: application/dialog-info+xml"},
		{name: "expiry too brief", msg: subMsg{ruser: "1010", ext: "1002", user: "bob", event: "dialog", expires: 10},
			want: "423 Interval Too Brief", wantHeader: "Min-Expires: 60"},
		{name: "unauthenticated", msg: subMsg{ruser: "1010", ext: "1002", user: "bob", event: "dialog", expires: 600, noAuth: true},
			want: "407 Proxy Authentication Required"},
		{name: "fetch (Expires: 0)", msg: subMsg{ruser: "1001", ext: "1001", user: "alice", event: "as-feature-event", expires: 0},
			want: "200 OK", body: "DoNotDisturbEvent", state: "terminated;reason=timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sink := keysServer(t)
			res := exchange(t, s, tt.msg.raw(t, s))
			if got := status(res); got != tt.want {
				t.Fatalf("answered %q, want %q", got, tt.want)
			}
			if tt.wantHeader != "" {
				name, val, _ := strings.Cut(tt.wantHeader, ": ")
				if h := res.GetHeader(name); h == nil || h.Value() != val {
					t.Errorf("response %s = %v, want %q", name, h, val)
				}
			}
			if tt.body == "" {
				time.Sleep(20 * time.Millisecond)
				if n := len(sink.all()); n != 0 {
					t.Fatalf("%d NOTIFYs sent for a refused SUBSCRIBE", n)
				}
				return
			}
			n := sink.wait(t, 1)[0]
			checkNotify(t, n, res, tt.msg.event, tt.state, 1)
			if !strings.Contains(string(n.Body()), tt.body) {
				t.Errorf("NOTIFY body lacks %q:\n%s", tt.body, n.Body())
			}
			subs, _ := s.opts.Store.Subscriptions(s.now())
			if stored := len(subs); (tt.msg.expires == 0) != (stored == 0) {
				t.Errorf("%d subscriptions stored", stored)
			}
		})
	}
}

// checkNotify checks a NOTIFY belongs to the dialog the 200 set up.
func checkNotify(t *testing.T, n *sip.Request, ok *sip.Response, event, state string, cseq uint32) {
	t.Helper()
	ourTag, _ := ok.To().Params.Get("tag")
	fromTag, _ := n.From().Params.Get("tag")
	toTag, _ := n.To().Params.Get("tag")
	if n.Method != sip.NOTIFY || fromTag != ourTag || ourTag == "" || !strings.HasPrefix(toTag, "ft-") ||
		n.CallID().Value() != ok.CallID().Value() {
		t.Errorf("NOTIFY not in the subscription dialog: %s from-tag %q (ours %q) to-tag %q", n.Method, fromTag, ourTag, toTag)
	}
	if n.CSeq().SeqNo != cseq || n.CSeq().MethodName != sip.NOTIFY {
		t.Errorf("CSeq %v, want %d NOTIFY", n.CSeq(), cseq)
	}
	if got := n.GetHeader("Event").Value(); got != event {
		t.Errorf("Event %q, want %q", got, event)
	}
	if got := n.GetHeader("Subscription-State").Value(); got != state {
		t.Errorf("Subscription-State %q, want %q", got, state)
	}
	if n.Recipient.String() != "sip:"+strings.TrimPrefix(n.To().Address.User, "")+"@192.0.2.10:5062" || n.Destination() != "192.0.2.10:5062" {
		t.Errorf("NOTIFY to %s at %s, want the subscriber's Contact", n.Recipient.String(), n.Destination())
	}
	if n.Contact() == nil {
		t.Error("NOTIFY without Contact")
	}
}

// subscribe sets up one subscription and returns the 200 and the first
// NOTIFY.
func subscribe(t *testing.T, s *Server, sink *notifySink, m subMsg) (*sip.Response, int) {
	t.Helper()
	before := len(sink.all())
	res := exchange(t, s, m.raw(t, s))
	if res.StatusCode != 200 {
		t.Fatalf("SUBSCRIBE %s answered %s", m.ruser, status(res))
	}
	sink.wait(t, before+1)
	return res, before + 1
}

func tagOf(res *sip.Response) string {
	tag, _ := res.To().Params.Get("tag")
	return tag
}

func TestSubscriptionRefreshAndUnsubscribe(t *testing.T) {
	s, sink := keysServer(t)
	m := subMsg{ruser: "1001", ext: "1001", user: "alice", event: "as-feature-event", expires: 600}
	ok, n := subscribe(t, s, sink, m)
	steps := []struct {
		name    string
		expires int
		fromTag string
		want    string
		state   string // of the NOTIFY that follows; "" = none
	}{
		{name: "refresh", expires: 300, want: "200 OK", state: "active;expires=300"},
		{name: "wrong From tag", expires: 300, fromTag: "other", want: "481 Subscription Does Not Exist"},
		{name: "unsubscribe", expires: 0, want: "200 OK", state: "terminated;reason=timeout"},
		{name: "after unsubscribing", expires: 300, want: "481 Call/Transaction Does Not Exist"},
	}
	for i, st := range steps {
		in := m
		in.toTag, in.expires, in.cseq = tagOf(ok), st.expires, i+2
		raw := in.raw(t, s)
		if st.fromTag != "" {
			raw = []byte(strings.Replace(string(raw), "tag=ft-1001", "tag="+st.fromTag, 1))
		}
		if got := status(exchange(t, s, raw)); got != st.want {
			t.Fatalf("%s: answered %q, want %q", st.name, got, st.want)
		}
		if st.state == "" {
			continue
		}
		n++
		notes := sink.wait(t, n)
		checkNotify(t, notes[n-1], ok, "as-feature-event", st.state, uint32(n))
	}
	eventually(t, "subscription removed", func() bool { return s.subs.count() == 0 })
	eventually(t, "no subscription left in the store", func() bool {
		subs, _ := s.opts.Store.Subscriptions(s.now())
		return len(subs) == 0
	})
}

// eventually polls cond every 5 ms for at most 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A refresh racing with a NOTIFY failure (dropSub) must not bring the
// subscription back: not in the table, and not in the store, where it
// would be resumed at the next start.
func TestRefreshCannotResurrect(t *testing.T) {
	s, sink := keysServer(t)
	m := subMsg{ruser: "1001", ext: "1001", user: "alice", event: "as-feature-event", expires: 600}
	ok, _ := subscribe(t, s, sink, m)
	sb := s.subs.all()[0]
	s.dropSub(sb)
	if _, live := s.subs.refresh(sb, func(r *store.Subscription) { r.Expires = time.Now().Add(time.Hour) }); live {
		t.Fatal("refresh of a dropped subscription succeeded")
	}

	// The same race through the handler, many times over.
	s.subLimit = newRateLimiter(SubscribeLimit{Rate: 1e6, Burst: 1e6})
	for i := range 100 {
		m.callID = "race-" + strconv.Itoa(i)
		ok, _ = subscribe(t, s, sink, m)
		var sb *subscription
		for _, x := range s.subs.all() {
			if x.rec.CallID == m.callID {
				sb = x
			}
		}
		if sb == nil {
			t.Fatalf("round %d: subscription not in the table", i)
		}
		in := m
		in.toTag, in.expires, in.cseq = tagOf(ok), 300, 2
		raw := in.raw(t, s)
		done := make(chan struct{})
		go func() { defer close(done); s.dropSub(sb) }()
		exchange(t, s, raw)
		<-done
		eventually(t, "table empty", func() bool { return s.subs.count() == 0 })
		// dropSub deletes the record right after emptying the table; a
		// resurrected one would stay.
		eventually(t, "no subscription in the store (round "+strconv.Itoa(i)+")", func() bool {
			subs, _ := s.opts.Store.Subscriptions(s.now())
			return len(subs) == 0
		})
	}
}
