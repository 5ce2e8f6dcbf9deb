package routing

import (
	"net/netip"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// phoneSource is where parseReq and exchange say requests come from.
var phoneSource = netip.MustParseAddr("192.0.2.10")

// testNonce is a nonce the server issued to phoneSource.
func testNonce(s *Server) string { return s.auth.Nonce(phoneSource, s.now()) }

const registerText = `
REGISTER sip:test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-reg1
Max-Forwards: 70
From: <sip:1001@test.example>;tag=a1
To: <sip:1001@test.example>
Call-ID: reg-1@192.0.2.10
CSeq: 1 REGISTER
Contact: <sip:1001@192.0.2.10:5062>
Expires: 300
Content-Length: 0

`
