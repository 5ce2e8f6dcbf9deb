package routing

import (
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
	"github.com/icholy/digest"
)

func rk(id string, port uint16) rtKey {
	return rkFrom(id, netip.AddrPortFrom(netip.MustParseAddr("192.0.2.10"), port))
}

func rkFrom(id string, src netip.AddrPort) rtKey {
	return rtKeyOf(rtAppendSource([]byte(id), src))
}

// TestRetransTable: records live exactly the table's ttl, whatever the
// order of use; the count and byte bounds refuse new records (the caller
// then keeps sipgo's transaction) until old ones expire; a key is the
// transaction and the source address together.
func TestRetransTable(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	res := []byte("SIP/2.0 200 OK\r\n\r\n")
	type op struct {
		put    bool
		key    rtKey
		when   time.Duration
		want   bool   // put accepted, or get found
		wantID string // get: the record's response
	}
	cases := []struct {
		name         string
		count, bytes int
		evict        bool
		ops          []op
		records      int // at the end
	}{
		{"expiry at ttl", 10, 1 << 20, false, []op{
			{put: true, key: rk("a", 1), when: 0, want: true},
			{key: rk("a", 1), when: 5*time.Second - 1, want: true},
			{key: rk("a", 1), when: 5 * time.Second, want: false},
		}, 0},
		{"source is part of the key", 10, 1 << 20, false, []op{
			{put: true, key: rk("a", 1), when: 0, want: true},
			{key: rk("a", 2), when: time.Second, want: false},
			{key: rkFrom("a", netip.MustParseAddrPort("192.0.2.11:1")), when: time.Second, want: false},
			{key: rk("b", 1), when: time.Second, want: false},
		}, 1},
		{"count bound", 2, 1 << 20, false, []op{
			{put: true, key: rk("a", 1), when: 0, want: true},
			{put: true, key: rk("b", 1), when: time.Second, want: true},
			{put: true, key: rk("c", 1), when: 2 * time.Second, want: false},
			{key: rk("c", 1), when: 2 * time.Second, want: false},
			{put: true, key: rk("c", 1), when: 5 * time.Second, want: true}, // a expired
			{key: rk("b", 1), when: 5 * time.Second, want: true},
		}, 2},
		{"byte bound", 100, 2 * (rtOverhead + len(res)), false, []op{
			{put: true, key: rk("a", 1), when: 0, want: true},
			{put: true, key: rk("b", 1), when: 0, want: true},
			{put: true, key: rk("c", 1), when: 0, want: false},
			{put: true, key: rk("c", 1), when: 5 * time.Second, want: true},
		}, 1},
		{"count bound, evicting", 2, 1 << 20, true, []op{
			{put: true, key: rk("a", 1), when: 0, want: true},
			{put: true, key: rk("b", 1), when: time.Second, want: true},
			{put: true, key: rk("c", 1), when: 2 * time.Second, want: true},
			{key: rk("a", 1), when: 2 * time.Second, want: false},
			{key: rk("b", 1), when: 2 * time.Second, want: true},
			{key: rk("c", 1), when: 2 * time.Second, want: true},
		}, 2},
		{"byte bound, evicting", 100, 2 * (rtOverhead + len(res)), true, []op{
			{put: true, key: rk("a", 1), when: 0, want: true},
			{put: true, key: rk("b", 1), when: 0, want: true},
			{put: true, key: rk("c", 1), when: 0, want: true},
			{key: rk("a", 1), when: 0, want: false},
			{key: rk("c", 1), when: 0, want: true},
		}, 2},
		{"replaced record keeps its new expiry", 10, 1 << 20, false, []op{
			{put: true, key: rk("a", 1), when: 0, want: true},
			{put: true, key: rk("a", 1), when: 3 * time.Second, want: true},
			{key: rk("a", 1), when: 6 * time.Second, want: true}, // the first slot expired
			{key: rk("a", 1), when: 8 * time.Second, want: false},
		}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := newRetransTable(5*time.Second, c.count, c.bytes, t0)
			tb.evict = c.evict
			for i, o := range c.ops {
				if o.put {
					if got := tb.put(o.key, rtRecord{res: res}, at(o.when)); got != o.want {
						t.Fatalf("op %d: put %v at %v = %v, want %v", i, o.key, o.when, got, o.want)
					}
					continue
				}
				rec, got := tb.get(o.key, at(o.when))
				if got != o.want {
					t.Fatalf("op %d: get %v at %v = %v, want %v", i, o.key, o.when, got, o.want)
				}
				if got && string(rec.res) != string(res) {
					t.Fatalf("op %d: record %q", i, rec.res)
				}
			}
			last := c.ops[len(c.ops)-1].when
			if st := tb.stats(at(last)); st.Records != c.records {
				t.Errorf("records %d, want %d", st.Records, c.records)
			}
			if st := tb.stats(at(last + 10*time.Second)); st.Records != 0 || st.Bytes != 0 {
				t.Errorf("after the window: %+v", st)
			}
		})
	}
}

// TestRetransTableRing: the expiry ring keeps insertion order across
// growth and wrap-around, each record keeps its own response across
// chunks, chunks are given back as their records expire, and after a burst
// the table gives all its memory back.
func TestRetransTableRing(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	tb := newRetransTable(time.Second, 5000, 1<<30, t0)
	to := netip.MustParseAddrPort("192.0.2.10:5062")
	conn := &lastConn{}
	res := func(id string) []byte { return []byte(id + strings.Repeat(".", 190)) }
	check := func(w int, id string, want bool) {
		t.Helper()
		rec, ok := tb.get(rk(id, 1), t0.Add(time.Duration(w)*100*time.Millisecond))
		if ok != want {
			t.Fatalf("wave %d: %s found %v, want %v", w, id, ok, want)
		}
		if ok && (string(rec.res) != string(res(id)) || rec.to != to || rec.conn != conn) {
			t.Fatalf("wave %d: %s's record %q to %v conn %v", w, id, rec.res[:12], rec.to, rec.conn)
		}
	}
	// Waves of 300 records 100 ms apart: the ring wraps many times; every
	// third record has no response.
	for w := range 40 {
		now := t0.Add(time.Duration(w) * 100 * time.Millisecond)
		for i := range 300 {
			id := fmt.Sprintf("w%d-%d", w, i)
			rec := rtRecord{res: res(id), to: to, conn: conn}
			if i%3 == 0 {
				rec = rtRecord{}
			}
			if !tb.put(rk(id, 1), rec, now) {
				t.Fatalf("wave %d: refused", w)
			}
		}
		// Waves w-9..w are alive, w-10 is gone.
		check(w, fmt.Sprintf("w%d-%d", w, 299), true)
		if w >= 9 {
			check(w, fmt.Sprintf("w%d-1", w-9), true)
		}
		if w >= 10 {
			check(w, fmt.Sprintf("w%d-1", w-10), false)
		}
		st := tb.stats(now)
		if st.Records != min(w+1, 10)*300 {
			t.Fatalf("wave %d: %d records", w, st.Records)
		}
		tb.mu.Lock()
		chunks := len(tb.chunks)
		tb.mu.Unlock()
		if live := st.Bytes - st.Records*rtOverhead; chunks > live/rtChunkSize+2 {
			t.Fatalf("wave %d: %d chunks for %d B of responses", w, chunks, live)
		}
	}
	tb.stats(t0.Add(time.Hour))
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if tb.ring != nil || tb.n != 0 || tb.bytes != 0 || len(tb.chunks) != 0 || len(tb.conns) != 0 {
		t.Errorf("after the burst: ring %d, n %d, bytes %d, chunks %d, conns %d", len(tb.ring), tb.n, tb.bytes, len(tb.chunks), len(tb.conns))
	}
}

// registerOK is a REGISTER's 200 as the registrar sends it to a phone.
func registerOK(i int) []byte {
	text := fmt.Sprintf("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-%08d;rport=5062;received=192.0.2.10\r\n"+
		"From: <sip:1001@test.example>;tag=reg1001\r\nTo: <sip:1001@test.example>;tag=2f1c6a8e-5b7d-4c1e-9d3a-7e8f0a1b2c3d\r\n"+
		"Call-ID: reg-1001@192.0.2.10\r\nCSeq: %d REGISTER\r\n"+
		"Contact: <sip:1001@192.0.2.10:5062>;expires=3600\r\nDate: Mon, 23 Nov 2026 10:00:00 GMT\r\nContent-Length: 0\r\n\r\n", i, i)
	return []byte(text)
}

// TestRetransRecordMemory measures what one REGISTER's record takes on the
// heap (a live sipgo transaction with its request and response is ~10 KB;
// the record 747 B with a string key and a slice per response, 519 B now)
// and checks the table's own accounting is not below it.
func TestRetransRecordMemory(t *testing.T) {
	const n = 10000
	t0 := time.Now()
	tb := newRetransTable(time.Minute, 2*n, 1<<30, t0)
	keys := make([]rtKey, n)
	resps := make([][]byte, n)
	for i := range n {
		req := parseRaw(t, benchRegister("1001", i, ""))
		keys[i], _ = txKey(req, "")
		resps[i] = registerOK(i)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range n {
		k := keys[i]
		tb.put(k, rtRecord{res: append([]byte(nil), resps[i]...)}, t0)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(keys)
	runtime.KeepAlive(resps)
	perRecord := float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
	st := tb.stats(t0)
	t.Logf("%d records: %.0f B each on the heap (table's count %d B each, response %d B)",
		st.Records, perRecord, st.Bytes/st.Records, len(registerOK(1)))
	if st.Records != n {
		t.Fatalf("%d records", st.Records)
	}
	// Besides its response a record took ~370 B with a string id, a slice
	// per response and the socket's interface; ~145 B in chunks and
	// pointer-free slots.
	if limit := float64(len(registerOK(1)) + 200); perRecord > limit {
		t.Errorf("%.0f B per record, want ≤ %.0f", perRecord, limit)
	}
	if float64(st.Bytes/st.Records) < 0.9*perRecord {
		t.Errorf("the table counts %d B per record, the heap %.0f B", st.Bytes/st.Records, perRecord)
	}
	runtime.KeepAlive(tb)
}

// TestTxKey: the key is the transaction (branch, sent-by, method; ACK
// counts as INVITE) plus the source; TCP, RFC 2543 branches and unknown
// sources get none.
func TestTxKey(t *testing.T) {
	base := reqText("BYE", "sip:1002@test.example", "<sip:1002@test.example>;tag=x", "")
	parse := func(text, src, transport string) *sip.Request {
		req := parseReq(t, text)
		req.SetSource(src)
		req.SetTransport(transport)
		return req
	}
	k0, ok := txKey(parse(base, "192.0.2.10:5062", "UDP"), "")
	if !ok {
		t.Fatal("no key for a UDP BYE")
	}
	cases := []struct {
		name      string
		req       *sip.Request
		method    sip.RequestMethod
		ok, equal bool
	}{
		{"same", parse(base, "192.0.2.10:5062", "UDP"), "", true, true},
		{"other source port", parse(base, "192.0.2.10:5063", "UDP"), "", true, false},
		{"other source host", parse(base, "192.0.2.99:5062", "UDP"), "", true, false},
		{"IPv4-mapped source", parse(base, "[::ffff:192.0.2.10]:5062", "UDP"), "", true, true},
		{"as INVITE", parse(base, "192.0.2.10:5062", "UDP"), sip.INVITE, true, false},
		{"TCP", parse(base, "192.0.2.10:5062", "TCP"), "", false, false},
		{"RFC 2543 branch", parse(strings.Replace(base, "branch=z9hG4bK-", "branch=old-", 1), "192.0.2.10:5062", "UDP"), "", false, false},
		{"source not an address", parse(base, "phone.example:5062", "UDP"), "", false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, ok := txKey(c.req, c.method)
			if ok != c.ok || (ok && (k == k0) != c.equal) {
				t.Errorf("key %x ok %v; want ok %v, equal %v", k, ok, c.ok, c.equal)
			}
		})
	}
	invText := reqText("INVITE", "sip:1002@test.example", "<sip:1002@test.example>", "")
	inv := parse(invText, "192.0.2.10:5062", "UDP")
	ack := parse(strings.ReplaceAll(invText, "INVITE", "ACK"), "192.0.2.10:5062", "UDP")
	ki, _ := txKey(inv, "")
	ka, _ := txKey(ack, "")
	if ki != ka {
		t.Errorf("ACK key %x, INVITE key %x", ka, ki)
	}
}

// authRegister returns an authenticated REGISTER of 1001 (the challenge is
// taken from the server first).
func authRegister(t *testing.T, s *Server) string {
	t.Helper()
	text := reqText("REGISTER", "sip:test.example", "<sip:1001@test.example>", "Expires: 300\n")
	rs, _ := recorded(t, s, parseReq(t, text))
	c, err := s.opts.Store.Credential("alice", "1001")
	if err != nil {
		t.Fatal(err)
	}
	cred := registerCredentials(t, finalOf(rs), c.Password)
	return reqText("REGISTER", "sip:test.example", "<sip:1001@test.example>", "Expires: 300\nAuthorization: "+cred+"\n")
}

// TestRetransmittedRegister: an authenticated REGISTER's transaction ends
// with its 200; its retransmission gets the same 200 (same bytes: same To
// tag, Date and bindings), built again from the bindings without the
// registrar running again, and the record serves only the source that
// sent the request.
func TestRetransmittedRegister(t *testing.T) {
	s := testServer(t)
	text := authRegister(t, s)
	first := siptest.NewServerTxRecorder(parseReq(t, text))
	t.Cleanup(first.Terminate)
	s.handle(parseReq(t, text), first)
	select {
	case <-first.Done():
	default:
		t.Fatal("the answered REGISTER's transaction is still alive")
	}
	if n := s.liveTx.Load(); n != 0 {
		t.Errorf("%d live transactions after the answer", n)
	}
	rs := first.Result()
	if len(rs) != 1 || rs[0].StatusCode != 200 {
		t.Fatalf("answered %v", rs)
	}
	// The retransmission: a new sipgo transaction for the same key.
	again := siptest.NewServerTxRecorder(parseReq(t, text))
	t.Cleanup(again.Terminate)
	s.handle(parseReq(t, text), again)
	select {
	case <-again.Done():
	default:
		t.Error("the retransmission's transaction is still alive")
	}
	if got := again.Result(); len(got) != 0 {
		t.Errorf("the retransmission's own transaction answered %v", got)
	}
	rs = first.Result()
	if len(rs) != 2 || rs[1].String() != rs[0].String() {
		t.Fatalf("resent %d responses; want the same 200 twice:\n%v", len(rs), rs)
	}
	// The record is the binding key, not the 200's bytes.
	if st := s.retrans.finals.stats(s.now()); st.Records != 1 || st.Hits != 1 || st.Bytes > rtOverhead+64 {
		t.Errorf("finals %+v, want one record of at most %d B", st, rtOverhead+64)
	}
	// A retransmission after the bindings changed lists them as they are
	// now, with the first 200's tag.
	if err := s.bindings.RemoveAll("alice"); err != nil {
		t.Fatal(err)
	}
	third := siptest.NewServerTxRecorder(parseReq(t, text))
	t.Cleanup(third.Terminate)
	s.handle(parseReq(t, text), third)
	rs = first.Result()
	if len(rs) != 3 || len(rs[2].GetHeaders("Contact")) != 0 || len(rs[0].GetHeaders("Contact")) == 0 {
		t.Fatalf("after the bindings went: %d responses, last:\n%v", len(rs), rs[len(rs)-1])
	}
	tag0, _ := rs[0].To().Params.Get("tag")
	tag2, _ := rs[2].To().Params.Get("tag")
	if tag0 == "" || tag0 != tag2 {
		t.Errorf("To tags %q then %q", tag0, tag2)
	}
	// Another source with the same transaction key gets no cached answer:
	// its request goes to the registrar (which refuses the replayed nonce
	// or CSeq; any answer but the cached bytes will do).
	other := parseReq(t, text)
	other.SetSource("192.0.2.66:5062")
	rec := siptest.NewServerTxRecorder(other)
	t.Cleanup(rec.Terminate)
	s.handle(other, rec)
	if got := rec.Result(); len(got) == 0 || got[len(got)-1].String() == rs[0].String() {
		t.Errorf("another source got %v", got)
	}
}

// TestInviteFinals: an admitted INVITE's 2xx ends its transaction and
// leaves its key (a later 2xx goes straight out); a 2xx that loses to the
// caller's CANCEL leaves nothing and ends nothing; a non-2xx keeps the
// transaction until the ACK, then leaves the key that absorbs a stray ACK.
func TestInviteFinals(t *testing.T) {
	s := testServer(t)
	invite := func() (*sip.Request, *siptest.ServerTxRecorder, *guardTx) {
		req := parseReq(t, reqText("INVITE", "sip:1002@test.example", "<sip:1002@test.example>", ""))
		rec := siptest.NewServerTxRecorder(req)
		t.Cleanup(rec.Terminate)
		g := newGuardTx(rec)
		g.keep(req, s.retrans, s.now)
		markAdmitted(g)
		return req, rec, g
	}
	done := func(rec *siptest.ServerTxRecorder, within time.Duration) bool {
		t := time.NewTimer(within)
		defer t.Stop()
		for {
			select {
			case <-rec.Done():
				return true
			default:
			}
			select {
			case <-rec.Done():
				return true
			case <-t.C:
				return false
			case <-time.After(5 * time.Millisecond):
			}
		}
	}

	t.Run("2xx", func(t *testing.T) {
		req, rec, g := invite()
		if err := g.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
			t.Fatal(err)
		}
		if !done(rec, 0) {
			t.Error("transaction alive after the 2xx")
		}
		k, _ := txKey(req, "")
		if _, ok := s.retrans.accepted.get(k, s.now()); !ok {
			t.Error("no key for Timer L")
		}
		if err := g.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
			t.Errorf("2xx retransmission: %v", err)
		}
		if n := len(rec.Result()); n != 2 {
			t.Errorf("%d responses sent, want both 2xx", n)
		}
	})
	t.Run("2xx after the caller's CANCEL", func(t *testing.T) {
		req, rec, g := invite()
		cancel := parseReq(t, strings.ReplaceAll(strings.Replace(reqText("INVITE", "sip:1002@test.example", "<sip:1002@test.example>", ""),
			"branch=z9hG4bK-", "branch=x", 1), "INVITE", "CANCEL"))
		cancel.ReplaceHeader(sip.HeaderClone(req.Via()))
		if err := rec.Receive(cancel); err != nil {
			t.Fatal(err)
		}
		if err := g.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil)); err == nil {
			t.Fatal("a 2xx after the 487 was accepted")
		}
		k, _ := txKey(req, "")
		if _, ok := s.retrans.accepted.get(k, s.now()); ok {
			t.Error("the lost 2xx left a key")
		}
		if g.ended.Load() {
			t.Error("ended early")
		}
	})
	t.Run("non-2xx until the ACK", func(t *testing.T) {
		req, rec, g := invite()
		res := sip.NewResponseFromRequest(req, 486, "Busy Here", nil)
		if err := g.Respond(res); err != nil {
			t.Fatal(err)
		}
		g.settle()
		if done(rec, 50*time.Millisecond) {
			t.Fatal("transaction ended before the ACK")
		}
		ackText := strings.Replace(strings.Replace(req.String(), "INVITE sip:", "ACK sip:", 1), "CSeq: 1 INVITE", "CSeq: 1 ACK", 1)
		ack := parseReq(t, strings.ReplaceAll(ackText, "\r\n", "\n"))
		ack.ReplaceHeader(sip.HeaderClone(res.To()))
		if err := rec.Receive(ack); err != nil {
			t.Fatal(err)
		}
		if !done(rec, time.Second) {
			t.Fatal("transaction alive after the ACK (sipgo would keep it for Timer I)")
		}
		stray := siptest.NewServerTxRecorder(ack)
		t.Cleanup(stray.Terminate)
		if !s.retransmission(ack, stray) {
			t.Error("a stray ACK retransmission was not absorbed")
		}
	})
}

// registerCredentials answers the challenge in res (a 401 to a REGISTER of
// user 1001 to sip:test.example) with password: the Authorization value.
func registerCredentials(tb testing.TB, res *sip.Response, password string) string {
	tb.Helper()
	ch, err := digest.ParseChallenge(res.GetHeader("WWW-Authenticate").Value())
	if err != nil {
		tb.Fatal(err)
	}
	cred, err := digest.Digest(ch, digest.Options{Method: "REGISTER", URI: "sip:test.example",
		Username: "1001", Password: password, Count: 1, Cnonce: "0a4f113b"})
	if err != nil {
		tb.Fatal(err)
	}
	return cred.String()
}
