package sipptest

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"
)

// Flood describes a flood of unauthenticated out-of-dialog requests from
// one UDP socket: REGISTER, INVITE and SUBSCRIBE in turn, each a new
// transaction with its own Call-ID and branch. The flood test of the built
// daemon and the load bench both send it.
type Flood struct {
	Domain    string // host part of every URI
	From      string // the extension the requests claim to come from (and REGISTER)
	To        string // the extension INVITE and SUBSCRIBE go to
	UserAgent string
	IDPrefix  string // Call-ID and branch of request i: IDPrefix + i
}

var floodMethods = [...]string{"REGISTER", "INVITE", "SUBSCRIBE"}

// Request is request i of the flood; local is the socket's address (Via,
// Contact).
func (f Flood) Request(i int, local string) []byte {
	method := floodMethods[i%len(floodMethods)]
	id := f.IDPrefix + strconv.Itoa(i)
	to, ruri := "sip:"+f.To+"@"+f.Domain, "sip:"+f.To+"@"+f.Domain
	if method == "REGISTER" {
		to, ruri = "sip:"+f.From+"@"+f.Domain, "sip:"+f.Domain
	}
	lines := []string{
		method + " " + ruri + " SIP/2.0",
		"Via: SIP/2.0/UDP " + local + ";rport;branch=z9hG4bK-" + id,
		"Max-Forwards: 70",
		"From: <sip:" + f.From + "@" + f.Domain + ">;tag=f" + strconv.Itoa(i),
		"To: <" + to + ">",
		"Call-ID: " + id,
		"CSeq: 1 " + method,
		"Contact: <sip:" + f.From + "@" + local + ">",
	}
	switch method {
	case "REGISTER":
		lines = append(lines, "Expires: 600")
	case "SUBSCRIBE":
		lines = append(lines, "Event: dialog", "Accept: application/dialog-info+xml", "Expires: 600")
	}
	lines = append(lines, "User-Agent: "+f.UserAgent, "Content-Length: 0", "", "")
	return []byte(strings.Join(lines, "\r\n"))
}

// Send sends the flood from c to remote at up to rate requests per second
// (in 10 ms slices) until ctx ends, and returns how many it sent.
func (f Flood) Send(ctx context.Context, c *net.UDPConn, remote *net.UDPAddr, rate int) (int, error) {
	const slice = 10 * time.Millisecond
	perSlice := max(rate/int(time.Second/slice), 1)
	local := c.LocalAddr().String()
	sent := 0
	for next := time.Now(); ctx.Err() == nil; next = next.Add(slice) {
		for range perSlice {
			if _, err := c.WriteToUDP(f.Request(sent, local), remote); err != nil {
				return sent, fmt.Errorf("flood: %w", err)
			}
			sent++
		}
		if d := time.Until(next.Add(slice)); d > 0 {
			time.Sleep(d)
		}
	}
	return sent, nil
}
