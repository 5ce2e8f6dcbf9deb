package routing

import (
	"bytes"
	"testing"
	"time"
)

// TestTokenMACPerKey: HMAC states are kept between tokens (tokenMACs), but
// a token minted by one key never opens with another, however the two
// servers' tokens interleave.
func TestTokenMACPerKey(t *testing.T) {
	a := &Server{routeKey: bytes.Repeat([]byte{1}, 32)}
	b := &Server{routeKey: bytes.Repeat([]byte{2}, 32)}
	in := dialogToken{issued: time.Unix(1_700_000_000, 0), caller: trunkPeer, callee: trunkPeer}
	tests := []struct {
		name       string
		mint, open *Server
		want       bool
	}{
		{"a by a", a, a, true},
		{"a by b", a, b, false},
		{"b by b", b, b, true},
		{"b by a", b, a, false},
		{"a by a again", a, a, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.mint.mintToken("c1", "t1", in)
			if _, ok := tc.open.openToken(tok, "c1", "t1"); ok != tc.want {
				t.Errorf("opened = %v, want %v", ok, tc.want)
			}
			if again := tc.mint.mintToken("c1", "t1", in); again != tok {
				t.Errorf("same token minted twice differs: %q, %q", tok, again)
			}
		})
	}
}

// BenchmarkMintToken is the signing of one fork leg's Record-Route.
func BenchmarkMintToken(b *testing.B) {
	s := &Server{routeKey: make([]byte, 32)}
	tok := dialogToken{issued: time.Now(), caller: trunkPeer, callee: trunkPeer}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.mintToken("call-1234567890@127.0.0.1", "1SIPpTag0012", tok)
	}
}
