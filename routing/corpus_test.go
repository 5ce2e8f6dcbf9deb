package routing

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Hosts in test messages are rewritten to 127.0.0.1 before any message
// reaches a server: the RFC 4475 messages name 192.0.2.x, example.com and
// the like in the Request-URI, Via, Contact, Route and Record-Route, and a
// server that answered or forwarded to one of them (a TCP response after
// the client closed, say) would reach outside the machine.
var (
	hostPat = `(?:\[[^\]\s]*\]|[A-Za-z0-9._-]+)`
	// user@host (URIs, Call-IDs), also escaped as %40.
	atHost = regexp.MustCompile(`(@|%40)` + hostPat)
	// sip:host with no user part; http://host. The whole URI is matched so
	// that a user part (before an @ further on) is left alone.
	uriHost   = regexp.MustCompile(`(?i)(?:sips?:|https?://)[^\s<>,"]*`)
	uriPrefix = regexp.MustCompile(`(?i)^(?:sips?:|https?://)` + hostPat)
	// Via sent-by, however spaced, whatever the version.
	viaHost = regexp.MustCompile(`(?i)(SIP\s*/\s*[0-9.]+\s*/\s*[A-Za-z]+\s+)` + hostPat)
	// maddr= and received= parameters.
	paramHost = regexp.MustCompile(`(?i)((?:maddr|received)\s*=\s*)` + hostPat)
	// Any IPv4 literal (SDP, Warning, ...).
	ipv4 = regexp.MustCompile(`\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`)
	// Any name under a public top-level domain, wherever it stands.
	domain = regexp.MustCompile(`(?i)\b(?:[a-z0-9-]+\.)+(?:com|net|org|edu)\b`)

	contentLength = regexp.MustCompile(`(?im)^((?:content-length|l)[ \t]*:[ \t]*)(\d+)([ \t]*\r?)$`)
)

func rewriteText(b []byte) []byte {
	b = atHost.ReplaceAll(b, []byte("${1}127.0.0.1"))
	b = uriHost.ReplaceAllFunc(b, func(u []byte) []byte {
		if bytes.Contains(u, []byte("@")) {
			return u // the host follows the @
		}
		m := uriPrefix.FindIndex(u)
		if m == nil {
			return u // no host ("sip:" alone)
		}
		scheme := bytes.IndexByte(u, ':') + 1
		if bytes.HasPrefix(u[scheme:], []byte("//")) {
			scheme += 2
		}
		return append(append(append([]byte(nil), u[:scheme]...), "127.0.0.1"...), u[m[1]:]...)
	})
	b = viaHost.ReplaceAll(b, []byte("${1}127.0.0.1"))
	b = paramHost.ReplaceAll(b, []byte("${1}127.0.0.1"))
	b = domain.ReplaceAll(b, []byte("127.0.0.1"))
	return ipv4.ReplaceAll(b, []byte("127.0.0.1"))
}

// rewriteHosts rewrites every host of a test message (or of several in a
// row, as dblreq.dat has) to 127.0.0.1 and keeps the rest as it was: a
// Content-Length that was right for its body is made right for the
// rewritten body; a wrong one stays wrong.
func rewriteHosts(raw []byte) []byte {
	var out []byte
	rest := raw
	for len(rest) > 0 {
		end := bytes.Index(rest, []byte("\r\n\r\n"))
		sep := 4
		if end < 0 {
			end, sep = bytes.Index(rest, []byte("\n\n")), 2
		}
		if end < 0 {
			return append(out, rewriteText(rest)...)
		}
		hdr := rewriteText(rest[:end+sep])
		rest = rest[end+sep:]
		m := contentLength.FindSubmatchIndex(hdr)
		if m == nil {
			return append(append(out, hdr...), rewriteText(rest)...)
		}
		n, err := strconv.Atoi(string(hdr[m[4]:m[5]]))
		if err != nil || n > len(rest) {
			return append(append(out, hdr...), rewriteText(rest)...)
		}
		body := rewriteText(rest[:n])
		rest = rest[n:]
		if len(body) != n {
			hdr = append(append(append([]byte(nil), hdr[:m[4]]...), strconv.Itoa(len(body))...), hdr[m[5]:]...)
		}
		out = append(append(out, hdr...), body...)
	}
	return out
}

// RewriteHosts is rewriteHosts for the routing_test package's tests.
var RewriteHosts = rewriteHosts

// readCorpus returns the RFC 4475 messages by name, hosts rewritten.
func readCorpus(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "rfc4475", "*.dat"))
	if err != nil || len(files) == 0 {
		t.Fatalf("RFC 4475 messages: %d (%v)", len(files), err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".dat")] = rewriteHosts(b)
	}
	return out
}

// TestCorpusRewrite: after the rewrite no message names an address or a
// domain outside the machine, and bodies still match their lengths.
func TestCorpusRewrite(t *testing.T) {
	for name, b := range readCorpus(t) {
		for _, ip := range ipv4.FindAll(b, -1) {
			if string(ip) != "127.0.0.1" {
				t.Errorf("%s: address %s left", name, ip)
			}
		}
		if m := domain.Find(b); m != nil {
			t.Errorf("%s: domain %s left", name, m)
		}
		for _, u := range uriHost.FindAll(b, -1) {
			if !bytes.Contains(u, []byte("@")) && !bytes.Contains(u, []byte("127.0.0.1")) {
				t.Errorf("%s: URI %q left", name, u)
			}
		}
		for _, re := range []*regexp.Regexp{atHost, viaHost, paramHost} {
			for _, m := range re.FindAll(b, -1) {
				if !bytes.Contains(m, []byte("127.0.0.1")) {
					t.Errorf("%s: host %q left", name, m)
				}
			}
		}
	}
	// The double request: both messages kept, the INVITE's SDP body
	// rewritten and its Content-Length with it.
	got := string(readCorpus(t)["dblreq"])
	if !strings.Contains(got, "c=IN IP4 127.0.0.1\r\n") || strings.Count(got, "SIP/2.0\r\n") != 2 {
		t.Fatalf("dblreq rewritten wrongly:\n%s", got)
	}
	if !strings.Contains(got, "Content-Length: 148\r\n") { // 150, two addresses one byte shorter
		t.Errorf("dblreq INVITE Content-Length not updated:\n%s", got)
	}
}
