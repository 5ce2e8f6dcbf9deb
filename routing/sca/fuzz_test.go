package sca

import (
	"strconv"
	"strings"
	"testing"
)

// FuzzParseIndex: the Call-Info of a line-seize SUBSCRIBE comes from the
// LAN; whatever it says, the index is 0 (any) or a valid appearance, and
// a valid index round-trips.
func FuzzParseIndex(f *testing.F) {
	for _, s := range []string{"<sip:2000@d>;appearance-index=2", "<sip:2000@d>;appearance-index=*", "", ";;=;",
		`<sip:a@b>;appearance-index="3"`, "<sip:2000@d>;appearance-index=-1", "appearance-index=99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		n, ok := ParseIndex(v)
		if n < 0 || n > MaxAppearances || (!ok && n != 0) {
			t.Fatalf("ParseIndex(%q) = %d, %v", v, n, ok)
		}
		if ok && n > 0 {
			if m, ok2 := ParseIndex(SeizeInfo("sip:2000@d", n)); !ok2 || m != n {
				t.Fatalf("round trip of %d: %d, %v", n, m, ok2)
			}
		}
	})
}

// FuzzDirection: an SDP body from the LAN yields one of the four
// directions or "".
func FuzzDirection(f *testing.F) {
	for _, s := range []string{"v=0\r\na=sendonly\r\n", "c=IN IP4 0.0.0.0\n", "a=inactive", "", "a=sendrecv\na=sendonly"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, sdp []byte) {
		switch d := Direction(sdp); d {
		case "", "sendonly", "recvonly", "inactive", "sendrecv":
		default:
			t.Fatalf("Direction = %q", d)
		}
	})
}

// FuzzCallInfo: whatever a caller's display name holds, the rendered
// Call-Info keeps one quoted appearance-uri per appearance and no line
// breaks.
func FuzzCallInfo(f *testing.F) {
	f.Add(`"Bob" <sip:1002@d>`)
	f.Add("\"\\\"\r\n,;<>")
	f.Fuzz(func(t *testing.T, remote string) {
		v := CallInfo("sip:2000@d", []Appearance{{Index: 1, State: Active, Remote: remote}})
		if strings.ContainsAny(v, "\r\n") {
			t.Fatalf("line break in %q", v)
		}
		if !strings.HasSuffix(v, "<sip:2000@d>;appearance-index=*;appearance-state=idle") ||
			!strings.HasPrefix(v, "<sip:2000@d>;appearance-index="+strconv.Itoa(1)+";appearance-state=active") {
			t.Fatalf("Call-Info %q", v)
		}
	})
}
