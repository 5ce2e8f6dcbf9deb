package routing

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// syncBuffer is a log sink safe for the handler goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FuzzHandle feeds arbitrary bytes through parsing and the request entry
// point (s.handle, what every transport calls). A panic is recovered by
// handle and logged: the fuzzer fails on that log line. Nothing leaves the
// process: the client's transactions are answered by a fake.
func FuzzHandle(f *testing.F) {
	for _, b := range readCorpus(f) {
		f.Add(b)
	}
	logs := &syncBuffer{}
	// Not on 5060: rewritten Vias name 127.0.0.1 without a port, another
	// host, not a loop through us.
	s := testServer(f, func(o *Options) {
		o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelError}))
		o.Listen = []string{"udp:127.0.0.1:15060", "tcp:127.0.0.1:15060"}
		o.Flood = FloodOptions{Burst: 1 << 30} // every input reaches the handlers (the clock is fixed)
	})
	s.cli.TxRequester = &siptest.ClientTxRequester{OnRequest: func(req *sip.Request) *sip.Response {
		return sip.NewResponseFromRequest(req, 200, "OK", nil)
	}}
	// The BYE seed's token, minted for its dialog as it reads once hosts
	// are rewritten.
	tok := s.mintToken("fz-1@127.0.0.1", "a1", dialogToken{issued: s.now(),
		caller: peer{kind: peerUser, user: "alice", flow: netip.MustParseAddrPort(rawSource)},
		callee: peer{kind: peerUser, user: "bob", flow: netip.MustParseAddrPort("127.0.0.1:5064")}})
	bye := strings.ReplaceAll(strings.ReplaceAll(byeText, "TOKEN", tok), "127.0.0.1:5060", "127.0.0.1:15060")
	for _, m := range []string{registerText, inviteText, bye} {
		f.Add([]byte(strings.ReplaceAll(strings.TrimLeft(m, "\n"), "\n", "\r\n")))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// Hosts the fuzzer makes up are rewritten too: a relayed message
		// may leave through the real transport.
		handleRaw(t, s, rewriteHosts(raw))
		if l := logs.String(); strings.Contains(l, "panic") {
			t.Fatalf("handler panicked on %q:\n%s", raw, l)
		}
	})
}

const inviteText = `
INVITE sip:1002@test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-inv1;rport
Max-Forwards: 70
From: "Alice" <sip:1001@test.example>;tag=a1
To: <sip:1002@test.example>
Call-ID: fz-1@192.0.2.10
CSeq: 1 INVITE
Contact: <sip:1001@192.0.2.10:5062>
Proxy-Authorization: Digest username="1001", realm="test.example", nonce="x", uri="sip:1002@test.example", response="00", qop=auth, nc=00000001, cnonce="c"
Content-Length: 0

`

const byeText = `
BYE sip:1002@192.0.2.20:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-bye1;rport
Max-Forwards: 70
Route: <sip:127.0.0.1:5060;transport=udp;lr>, <sip:127.0.0.1:5060;transport=udp;lr;dg=TOKEN>
From: "Alice" <sip:1001@test.example>;tag=a1
To: <sip:1002@test.example>;tag=b2
Call-ID: fz-1@192.0.2.10
CSeq: 2 BYE
Content-Length: 0

`
