package fork

import (
	"bytes"
	"strconv"
	"strings"
	"testing"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/ringplan"
)

// benchInvite is a caller's INVITE as the proxy core hands it to Execute:
// our Record-Route added, credentials stripped, with an SDP body.
const benchInvite = "INVITE sip:2000@bench.test SIP/2.0\r\n" +
	"Via: SIP/2.0/UDP 127.0.0.1:15060;branch=z9hG4bK-1-1-0;rport=15060\r\n" +
	"From: \"User 1999\" <sip:1999@bench.test>;tag=1SIPpTag001\r\n" +
	"To: <sip:2000@bench.test>\r\n" +
	"Call-ID: 1-12345@127.0.0.1\r\n" +
	"CSeq: 2 INVITE\r\n" +
	"Contact: <sip:1999@127.0.0.1:15060>\r\n" +
	"Record-Route: <sip:127.0.0.1:5080;lr;dgt=abcdefabcdef0123456789>\r\n" +
	"Max-Forwards: 70\r\n" +
	"P-Asserted-Identity: \"User 1999\" <sip:1999@bench.test>\r\n" +
	"Content-Type: application/sdp\r\n" +
	"Content-Length: 129\r\n\r\n" +
	"v=0\r\no=user1 53655765 2353687637 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n" +
	"t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"

func benchCall(b *testing.B) *call {
	msg, err := sip.ParseMessage([]byte(benchInvite))
	if err != nil {
		b.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetSource("127.0.0.1:15060")
	req.SetTransport("UDP")
	e := New(Options{Log: quietLog()})
	return &call{e: e, req: req}
}

func benchTarget(i int) target {
	ext := strconv.Itoa(1001 + i)
	port := strconv.Itoa(16001 + i)
	return branchTarget(ringplan.Branch{User: "u" + ext, HistoryInfo: "<sip:2000@bench.test>;index=1",
		Contact: ringplan.Contact{User: "u" + ext, URI: "sip:" + ext + "@127.0.0.1:" + port,
			Source: "127.0.0.1:" + port, Transport: "udp"}})
}

// BenchmarkBranchRequest is the per-branch message work of a fork: the
// branch INVITE built from the caller's, and its CANCEL as it goes out
// over UDP (bytes written from the INVITE: startCancel).
func BenchmarkBranchRequest(b *testing.B) {
	c := benchCall(b)
	targets := make([]target, 25)
	for i := range targets {
		targets[i] = benchTarget(i)
	}
	var buf bytes.Buffer
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		fwd := c.branchRequest(targets[i%len(targets)], nil)
		buf.Reset()
		writeCancel(&buf, fwd, reasonElsewhere)
		i++
	}
}

// BenchmarkUpstream is the per-response work of relaying a branch's 180
// to the caller.
func BenchmarkUpstream(b *testing.B) {
	c := benchCall(b)
	res := sip.NewResponseFromRequest(c.branchRequest(benchTarget(0), nil), 180, "Ringing", nil)
	res.AppendHeader(sip.NewHeader("Contact", "<sip:1001@127.0.0.1:16001>"))
	b.ReportAllocs()
	for b.Loop() {
		o := c.upstream(res)
		if !strings.HasPrefix(o.StartLine(), "SIP/2.0 180") {
			b.Fatal(o.StartLine())
		}
	}
}
