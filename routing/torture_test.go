package routing_test

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"deskgate/routing"
)

// invalid4475 are RFC 4475 §3.1.2: they must get 400 (or another error)
// or be dropped, never a success.
var invalid4475 = strings.Fields(`badinv01 clerr scalar02 scalarlg quotbal ltgtruri lwsruri lwsstart
	trws escruri baddate regbadct badaspec baddn badvers mismatch01 mismatch02 bigcode ncl`)

// sendRaw sends one message and returns the first response line, "" if
// none came within wait.
func sendRaw(t *testing.T, network, addr string, msg []byte, wait time.Duration) string {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write(msg); err != nil {
		return ""
	}
	_ = c.SetReadDeadline(time.Now().Add(wait))
	buf := make([]byte, 65535)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return ""
		}
		line, _, _ := bytes.Cut(buf[:n], []byte("\r\n"))
		if s := string(line); !strings.HasPrefix(s, "SIP/2.0 100") {
			return s
		}
	}
}

// TestTorture sends the RFC 4475 torture messages over UDP and over TCP,
// each transport to a fresh server (the messages reuse branches, so a
// second transport would only hit the first one's transactions). None may
// crash or wedge the server; over TCP, where responses come back on the
// connection, the invalid ones must get an error or nothing; afterwards
// the server still answers OPTIONS and registers a phone.
// TestTortureHandling checks the exact answer to each message.
func TestTorture(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "rfc4475", "*.dat"))
	if err != nil || len(files) != 49 {
		t.Fatalf("want the 49 RFC 4475 messages, found %d (%v)", len(files), err)
	}
	invalid := map[string]bool{}
	for _, n := range invalid4475 {
		invalid[n] = true
	}
	for _, network := range []string{"udp", "tcp"} {
		t.Run(network, func(t *testing.T) {
			h := newHarness(t)
			for _, f := range files {
				name := strings.TrimSuffix(filepath.Base(f), ".dat")
				msg, err := os.ReadFile(f)
				if err != nil {
					t.Fatal(err)
				}
				msg = routing.RewriteHosts(msg) // nothing may make the server reach outside
				got := sendRaw(t, network, h.udp, msg, 100*time.Millisecond)
				if invalid[name] && got != "" && !isError(got) {
					t.Errorf("invalid message %s answered %q, want an error or nothing", name, got)
				}
			}
			for _, n := range []string{"udp", "tcp"} {
				if got := sendRaw(t, n, h.udp, optionsMsg(n), 2*time.Second); !strings.HasPrefix(got, "SIP/2.0 200") {
					t.Errorf("OPTIONS over %s after the torture set: %q", n, got)
				}
			}
			h.register("1001", h.password("alice"), 5999)
		})
	}
}

func isError(statusLine string) bool {
	f := strings.Fields(statusLine)
	return len(f) >= 2 && f[0] == "SIP/2.0" && f[1] >= "300" && len(f[1]) == 3
}

func optionsMsg(network string) []byte {
	var b bytes.Buffer
	w := bufio.NewWriter(&b)
	for _, l := range []string{
		"OPTIONS sip:test.example SIP/2.0",
		"Via: SIP/2.0/" + strings.ToUpper(network) + " 127.0.0.1:5999;rport;branch=z9hG4bK-opt-" + network,
		"Max-Forwards: 70",
		"From: <sip:probe@test.example>;tag=p1",
		"To: <sip:test.example>",
		"Call-ID: options-" + network + "@127.0.0.1",
		"CSeq: 1 OPTIONS",
		"Content-Length: 0",
		"", "",
	} {
		w.WriteString(l + "\r\n")
	}
	w.Flush()
	return bytes.TrimSuffix(b.Bytes(), []byte("\r\n"))
}
