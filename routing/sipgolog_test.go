package routing

import (
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TestJunkLogSampled: unparsable messages are logged once per source per
// minute, at most junkLines lines a minute in all, with the count of those
// not logged, and never with any part of the message.
func TestJunkLogSampled(t *testing.T) {
	now := t0
	j := newJunkLog(func() time.Time { return now })
	var buf syncBuffer
	l := slog.New(sipgoHandler{inner: slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}), junk: j})
	junk := func(src string, i int) {
		data := []byte("REGISTER sip:x SIP/2.0\r\nAuthorization Digest response=\"SECRET" + strings.Repeat("x", i) + "\"\r\n\r\n")
		props := sip.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(src))}
		if got, err := j.note(props, data); err != nil || string(got) != string(data) {
			t.Fatalf("read filter changed the message: %q, %v", got, err)
		}
		l.Error(sipgoParseFailure, "data", string(data), "error", `field name with no value in header: "Authorization Digest response=SECRET"`)
	}
	lines := func() []string {
		var out []string
		for _, ln := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			if ln != "" {
				out = append(out, ln)
			}
		}
		return out
	}
	for i := range 100 {
		junk("192.0.2.1:5060", i)
	}
	if got := lines(); len(got) != 1 || !strings.Contains(got[0], "source=192.0.2.1") ||
		!strings.Contains(got[0], `reason="field name with no value in header"`) || !strings.Contains(got[0], "level=WARN") {
		t.Fatalf("100 junk messages from one source logged as:\n%s", buf.String())
	}
	for i := range 50 {
		junk(netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}), 5060).String(), i)
	}
	if got := lines(); len(got) != junkLines {
		t.Fatalf("50 more sources: %d lines, want %d in a minute", len(got), junkLines)
	}
	now = now.Add(junkPeriod)
	junk("192.0.2.1:5061", 0)
	got := lines()
	if len(got) != junkLines+1 || !strings.Contains(got[junkLines], "suppressed=99") ||
		!strings.Contains(got[junkLines], "suppressed_total=41") {
		t.Fatalf("a minute later, last line %q; want 99 suppressed from the source, 41 since the previous line", got[len(got)-1])
	}
	if strings.Contains(buf.String(), "SECRET") || strings.Contains(buf.String(), "REGISTER") {
		t.Errorf("message content logged:\n%s", buf.String())
	}
}

func TestParseReason(t *testing.T) {
	for in, want := range map[string]string{
		`field name with no value in header: "Authorization Digest x"`:    "field name with no value in header",
		`transmission beginning 'Digest response=x' is not a SIP message`: "transmission beginning",
		"Message exceeds ParseMaxMessageLength":                           "Message exceeds ParseMaxMessageLength",
		`"quoted from the start"`:                                         "unparsable",
		strings.Repeat("y", 100):                                          strings.Repeat("y", 60),
	} {
		if got := parseReason(in); got != want {
			t.Errorf("parseReason(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkJunkNote is the read filter's cost per message (every message
// pays it, parsable or not).
func BenchmarkJunkNote(b *testing.B) {
	j := newJunkLog(time.Now)
	data := []byte(strings.Repeat("REGISTER sip:test.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5062\r\n", 12))
	props := sip.TransportReadProps{Transport: "UDP", RemoteAddr: net.UDPAddrFromAddrPort(netip.MustParseAddrPort("192.0.2.10:5062"))}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		_, _ = j.note(props, data)
	}
}
