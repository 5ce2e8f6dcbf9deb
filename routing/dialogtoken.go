package routing

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"hash"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A dialog token is the value of our Record-Route's dg parameter. It lets
// in-dialog requests be routed without per-call memory (calls survive a
// restart), but only between the parties of the dialog it was minted for:
// it names the peer on each side (the trunk, or a user's phone and the
// flow it used) and when it was issued, and its MAC covers those, the
// Call-ID and the dialog-creating request's From tag. The To tag is not
// known when we Record-Route the INVITE, so an in-dialog request must carry
// that From tag as its From tag (sent by the caller's side) or as its To
// tag (sent by the callee's side); that tells which side it comes from and
// which side it may go to.

const (
	tokenVersion = 1
	// tokenLifetime bounds how long a dialog may use us: a call or
	// subscription older than this gets 481 and is over (the phones then
	// clean up, or subscribe again). The key is kept in the store, so
	// tokens stay valid across restarts within this lifetime.
	tokenLifetime = 24 * time.Hour
	// tokenSkew tolerates a clock stepped back after a token was issued.
	tokenSkew    = 5 * time.Minute
	tokenMACSize = 12  // 96 bits
	maxTokenUser = 64  // longer user ids are recorded as their flow only
	maxTokenLen  = 512 // base64 of two 64-byte user ids with zoned IPv6 flows fits
)

// peerKind says what one side of a dialog is.
type peerKind byte

const (
	peerFlow  peerKind = 'f' // a UA known only by its address (a picked-up call's caller)
	peerUser  peerKind = 'u' // a user's phone, and the flow it used
	peerTrunk peerKind = 't' // the trunk: its configured address and trusted sources
	peerHost  peerKind = 'h' // a host we sent to by name (a fallback URI's host)
)

// peer is one side of a dialog as its token records it.
type peer struct {
	kind peerKind
	user string         // peerUser: the directory user id
	flow netip.AddrPort // where that side sent from or was sent to; zero = unknown
	host string         // peerHost: the name, and port
	port uint16
	tcp  bool // the flow is a TCP connection
}

// transport is the flow's transport for sipgo ("UDP", "TCP").
func (p peer) transport() string {
	if p.tcp {
		return "TCP"
	}
	return "UDP"
}

// flowPeer is a phone's peer: user ("" = unknown), the "ip:port" of its
// flow and that flow's transport. A user id too long for a token makes it
// a flow-only peer; an unparsable address leaves the flow unknown.
func flowPeer(user, addr, transport string) peer {
	p := peer{kind: peerFlow, tcp: strings.EqualFold(transport, "tcp")}
	if user != "" && len(user) <= maxTokenUser {
		p.kind, p.user = peerUser, user
	}
	if ap, err := netip.ParseAddrPort(addr); err == nil {
		p.flow = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
		return p
	}
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.ParseUint(port, 10, 16)
	if p.kind == peerFlow && err == nil && perr == nil && host != "" && len(host) <= maxTokenUser {
		p.kind, p.host, p.port = peerHost, host, uint16(n)
	}
	return p
}

func (p peer) appendTo(b []byte) []byte {
	b = append(b, byte(p.kind))
	if p.kind == peerTrunk {
		return b
	}
	tp := byte('u')
	if p.tcp {
		tp = 't'
	}
	b = append(b, tp)
	if p.kind == peerHost {
		b = binary.BigEndian.AppendUint16(b, p.port)
		b = append(b, byte(len(p.host)))
		return append(b, p.host...)
	}
	var ab []byte
	if p.flow.IsValid() {
		ab, _ = p.flow.MarshalBinary() // cannot fail
	}
	b = append(b, byte(len(ab)))
	b = append(b, ab...)
	if p.kind == peerUser {
		b = append(b, byte(len(p.user)))
		b = append(b, p.user...)
	}
	return b
}

// readPeer decodes one peer; ok=false on anything malformed.
func readPeer(b []byte) (peer, []byte, bool) {
	if len(b) < 1 {
		return peer{}, nil, false
	}
	p := peer{kind: peerKind(b[0])}
	b = b[1:]
	switch p.kind {
	case peerTrunk:
		return p, b, true
	case peerUser, peerFlow, peerHost:
	default:
		return peer{}, nil, false
	}
	if len(b) < 2 || (b[0] != 'u' && b[0] != 't') {
		return peer{}, nil, false
	}
	p.tcp = b[0] == 't'
	if p.kind == peerHost {
		if len(b) < 4 || b[3] == 0 || int(b[3]) > len(b)-4 {
			return peer{}, nil, false
		}
		p.port = binary.BigEndian.Uint16(b[1:3])
		p.host = string(b[4 : 4+int(b[3])])
		return p, b[4+int(b[3]):], true
	}
	n := int(b[1])
	b = b[2:]
	if len(b) < n {
		return peer{}, nil, false
	}
	if n > 0 {
		if err := p.flow.UnmarshalBinary(b[:n]); err != nil {
			return peer{}, nil, false
		}
	}
	b = b[n:]
	if p.kind == peerUser {
		if len(b) < 1 || int(b[0]) > len(b)-1 || b[0] == 0 {
			return peer{}, nil, false
		}
		p.user, b = string(b[1:1+int(b[0])]), b[1+int(b[0]):]
	}
	return p, b, true
}

// dialogToken is what a token says once its MAC checked out.
type dialogToken struct {
	issued time.Time
	caller peer // sent the dialog-creating request: owns the bound tag
	callee peer // the side it was forwarded to
}

// mintToken signs t for the dialog of callID whose creating request had
// From tag fromTag.
func (s *Server) mintToken(callID, fromTag string, t dialogToken) string {
	body := make([]byte, 1, 64) // room for both peers: appends do not regrow it
	body[0] = tokenVersion
	body = binary.BigEndian.AppendUint32(body, uint32(t.issued.Unix()))
	body = t.caller.appendTo(body)
	body = t.callee.appendTo(body)
	return base64.RawURLEncoding.EncodeToString(append(body, s.tokenMAC(body, callID, fromTag)...))
}

func (s *Server) tokenMAC(body []byte, callID, tag string) []byte {
	m, _ := tokenMACs.Get().(*keyedMAC)
	if m == nil || !hmac.Equal(m.key, s.routeKey) {
		m = &keyedMAC{key: s.routeKey, h: hmac.New(sha256.New, s.routeKey)}
	} else {
		m.h.Reset()
	}
	writeField(m.h, callID)
	writeField(m.h, tag)
	m.h.Write(body)
	mac := m.h.Sum(nil)[:tokenMACSize]
	tokenMACs.Put(m)
	return mac
}

// tokenMACs keeps HMAC states between tokens: a fork signs every leg's
// Record-Route, and hmac.New cost a dozen allocations and the key's two
// SHA-256 blocks each time, where Reset restores the keyed state.
var tokenMACs sync.Pool

// keyedMAC is an HMAC state and the key it was made with (a state is
// used again only for the same key: tests run servers with other keys).
type keyedMAC struct {
	key []byte
	h   hash.Hash
}

// writeField writes a length-prefixed string, so fields cannot run into
// each other.
func writeField(h hash.Hash, v string) {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(v)))
	h.Write(n[:])
	h.Write([]byte(v))
}

// openToken decodes tok and checks its MAC for callID and tag. It does not
// check the age: see fresh.
func (s *Server) openToken(tok, callID, tag string) (dialogToken, bool) {
	if tok == "" || len(tok) > maxTokenLen || tag == "" {
		return dialogToken{}, false
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(tok)
	if err != nil || len(raw) < 1+4+tokenMACSize || raw[0] != tokenVersion {
		return dialogToken{}, false
	}
	body, mac := raw[:len(raw)-tokenMACSize], raw[len(raw)-tokenMACSize:]
	if !hmac.Equal(mac, s.tokenMAC(body, callID, tag)) {
		return dialogToken{}, false
	}
	t := dialogToken{issued: time.Unix(int64(binary.BigEndian.Uint32(body[1:5])), 0)}
	rest := body[5:]
	var ok bool
	if t.caller, rest, ok = readPeer(rest); !ok {
		return dialogToken{}, false
	}
	if t.callee, rest, ok = readPeer(rest); !ok || len(rest) != 0 {
		return dialogToken{}, false
	}
	return t, true
}

// fresh reports whether a token issued at issued may still be used at now.
func fresh(issued, now time.Time) bool {
	return !issued.After(now.Add(tokenSkew)) && now.Sub(issued) <= tokenLifetime
}
