package routing

import (
	"strconv"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/emiago/sipgo/siptest"
)

// rawSource is where handleRaw's messages come from: loopback, so nothing
// answered or relayed to the sender can leave the machine.
const rawSource = "127.0.0.1:5999"

// handleRaw runs one raw message the way a UDP listener does: parse, the
// transaction layer's key check (stateless 400 when it fails), then our
// entry point. It returns "drop", "400 (transaction layer)" or the first
// final response's status and reason.
func handleRaw(t testing.TB, s *Server, raw []byte) string {
	msg, err := sip.ParseMessage(raw)
	if err != nil {
		return "drop"
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		return "drop" // a response matching no transaction
	}
	req.SetSource(rawSource)
	req.SetTransport("UDP")
	if _, err := sip.ServerTxKeyMake(req); err != nil {
		return "400 (transaction layer)"
	}
	rec := siptest.NewServerTxRecorder(req)
	defer rec.Terminate()
	s.handle(req, rec)
	for _, r := range rec.Result() {
		if r.StatusCode >= 200 {
			return strconv.Itoa(r.StatusCode) + " " + r.Reason
		}
	}
	return "none"
}

func TestTortureHandling(t *testing.T) {
	want := map[string]string{
		// §3.1.1 valid messages
		"wsinv":      "400 (transaction layer)", // sipgo cannot key "SIP  /  2.0  /  UDP" Vias
		"intmeth":    "405 Method Not Allowed",
		"esc01":      "407 Proxy Authentication Required",
		"escnull":    "404 Domain Not Served",
		"esc02":      "405 Method Not Allowed",
		"lwsdisp":    "200 OK",
		"longreq":    "407 Proxy Authentication Required",
		"dblreq":     "404 Domain Not Served", // the REGISTER; UDP ignores the trailing INVITE
		"semiuri":    "200 OK",
		"transports": "200 OK",
		"mpart01":    "405 Method Not Allowed Outside A Dialog",
		"unreason":   "drop", // responses
		"noreason":   "drop",
		// §3.1.2 invalid messages: 400, another error, or dropped
		"badinv01":   "drop",
		"clerr":      "drop",
		"scalar02":   "drop",
		"scalarlg":   "drop",
		"quotbal":    "drop",
		"ltgtruri":   "drop",
		"lwsruri":    "drop",
		"lwsstart":   "drop",
		"trws":       "drop",
		"escruri":    "400 Headers In Request-URI",
		"baddate":    "400 Bad Date",
		"regbadct":   "404 Domain Not Served",
		"badaspec":   "drop",
		"baddn":      "drop",
		"badvers":    "505 Version Not Supported",
		"mismatch01": "400 CSeq Method Mismatch",
		"mismatch02": "400 CSeq Method Mismatch",
		"bigcode":    "drop",
		"ncl":        "drop",
		// §3.2 and §3.3
		"badbranch": "200 OK",
		"insuf":     "400 Missing From",
		"unkscm":    "416 Unsupported URI Scheme",
		"novelsc":   "drop", // sipgo does not parse soap.beep: URIs
		"unksm2":    "404 Domain Not Served",
		"bext01":    "420 Bad Extension",
		"invut":     "407 Proxy Authentication Required",
		"regaut01":  "404 Domain Not Served",
		"multi01":   "407 Proxy Authentication Required",
		"mcl01":     "200 OK",
		"bcast":     "drop",
		"zeromf":    "200 OK", // OPTIONS with Max-Forwards 0: answered as a UAS (§16.3 step 3)
		"cparam01":  "404 Domain Not Served",
		"cparam02":  "404 Domain Not Served",
		"regescrt":  "404 Domain Not Served",
		"sdp01":     "407 Proxy Authentication Required",
		"inv2543":   "400 (transaction layer)", // no From tag: RFC 2543 is not supported
	}
	corpus := readCorpus(t) // hosts rewritten to 127.0.0.1
	if len(corpus) != len(want) {
		t.Fatalf("%d torture messages, %d expectations", len(corpus), len(want))
	}
	// Not on 5060: the rewritten Vias name 127.0.0.1 without a port, which
	// must read as another host, not as a loop through us.
	s := testServer(t, func(o *Options) { o.Listen = []string{"udp:127.0.0.1:15060", "tcp:127.0.0.1:15060"} })
	for name, raw := range corpus {
		t.Run(name, func(t *testing.T) {
			if got := handleRaw(t, s, raw); got != want[name] {
				t.Errorf("%s: got %q, want %q", name, got, want[name])
			}
		})
	}
}
