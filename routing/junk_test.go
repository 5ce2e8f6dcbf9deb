package routing_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// TestJunkDatagramsLogBounded: a burst of unparsable datagrams (one
// address sending hundreds, forty more addresses a few each) leaves a
// bounded number of log lines, at most one per source, and no part of any
// message (they carry what looks like a digest response) in the log, even
// at debug level.
func TestJunkDatagramsLogBounded(t *testing.T) {
	h := newHarness(t)
	const secret = "5ec7e75ec7e75ec7e75ec7e75ec7e7ab"
	junk := []string{
		"GARBAGE Digest username=\"1001\", response=\"" + secret + "\"\r\n\r\n",
		"REGISTER sip:test.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK-j\r\n" +
			"Authorization Digest username=\"1001\", response=\"" + secret + "\"\r\n\r\n",
		"\x01\x02\x03 " + secret + " \xff\xfe",
	}
	send := func(from string, n int) {
		t.Helper()
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		to, _ := net.ResolveUDPAddr("udp", h.udp)
		for i := range n {
			if _, err := c.WriteToUDP([]byte(junk[i%len(junk)]), to); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 10 {
		send("127.0.0.1", 30) // ten source ports
	}
	for i := 10; i < 50; i++ {
		send(fmt.Sprintf("127.0.0.%d", i), 3)
	}
	// The listener reads one datagram at a time: once an OPTIONS sent
	// after the burst is answered, every junk datagram has been parsed.
	c, err := net.Dial("udp", h.udp)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	port := c.LocalAddr().(*net.UDPAddr).Port
	opts := fmt.Sprintf("OPTIONS sip:test.example SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-sync;rport\r\n"+
		"Max-Forwards: 70\r\nFrom: <sip:probe@test.example>;tag=p\r\nTo: <sip:test.example>\r\nCall-ID: junk-sync\r\n"+
		"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n", port)
	// Re-sent until answered: the burst may overflow the socket buffer and
	// drop the probe too.
	buf := make([]byte, 4096)
	answered := false
	for try := 0; try < 10 && !answered; try++ {
		if _, err := c.Write([]byte(opts)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		n, err := c.Read(buf)
		answered = err == nil && strings.HasPrefix(string(buf[:n]), "SIP/2.0 200")
	}
	if !answered {
		t.Fatal("no 200 to OPTIONS after the burst")
	}

	logs := h.logs.String()
	var lines, fromOne int
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, "unparsable SIP message") || strings.Contains(l, "failed to parse") {
			lines++
			if strings.Contains(l, "source=127.0.0.1 ") {
				fromOne++
			}
		}
	}
	if lines == 0 || lines > 10 || fromOne != 1 {
		t.Errorf("420 junk datagrams from 41 sources logged as %d lines (%d for 127.0.0.1); want 1..10, one for 127.0.0.1", lines, fromOne)
	}
	if strings.Contains(logs, secret) || strings.Contains(logs, "GARBAGE") {
		t.Errorf("message content in the log")
	}
}
