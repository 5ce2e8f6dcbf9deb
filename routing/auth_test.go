package routing

import (
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

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

// answer computes a phone's credentials for a challenge.
func answer(t *testing.T, ch *digest.Challenge, method, user, password string, nc int) string {
	t.Helper()
	cred, err := digest.Digest(ch, digest.Options{Method: method, URI: "sip:test.example",
		Username: user, Password: password, Count: nc, Cnonce: "0a4f113b"})
	if err != nil {
		t.Fatal(err)
	}
	return cred.String()
}

func TestAuthVerify(t *testing.T) {
	s := testServer(t, func(o *Options) { o.AuthAlgorithms = []string{"MD5", "SHA-256"} })
	c, err := s.opts.Store.Credential("alice", "1001")
	if err != nil {
		t.Fatal(err)
	}
	pw := c.Password
	now := s.now()
	fresh := func(alg string, qop bool) *digest.Challenge {
		ch := &digest.Challenge{Realm: "test.example", Nonce: s.auth.nonces.issue(now), Algorithm: alg}
		if qop {
			ch.QOP = []string{"auth"}
		}
		return ch
	}
	tests := []struct {
		name   string
		header func() string // "" = no credentials
		want   authResult
		user   string
	}{
		{"no credentials", func() string { return "" }, authChallenge, ""},
		{"MD5 qop", func() string { return answer(t, fresh("MD5", true), "REGISTER", "1001", pw, 1) }, authOK, "alice"},
		{"SHA-256 qop", func() string { return answer(t, fresh("SHA-256", true), "REGISTER", "1001", pw, 1) }, authOK, "alice"},
		{"MD5 without qop", func() string { return answer(t, fresh("MD5", false), "REGISTER", "1001", pw, 0) }, authOK, "alice"},
		{"algorithm omitted means MD5", func() string { return answer(t, fresh("", true), "REGISTER", "1001", pw, 1) }, authOK, "alice"},
		{"wrong password", func() string { return answer(t, fresh("MD5", true), "REGISTER", "1001", "nope", 1) }, authFailed, ""},
		{"unknown user", func() string { return answer(t, fresh("MD5", true), "REGISTER", "9999", pw, 1) }, authFailed, ""},
		{"user id is not a username", func() string { return answer(t, fresh("MD5", true), "REGISTER", "alice", pw, 1) }, authFailed, ""},
		{"algorithm not offered", func() string { return answer(t, fresh("SHA-512", true), "REGISTER", "1001", pw, 1) }, authFailed, ""},
		{"other realm is ignored", func() string {
			ch := fresh("MD5", true)
			ch.Realm = "elsewhere"
			return answer(t, ch, "REGISTER", "1001", pw, 1)
		}, authChallenge, ""},
		{"expired nonce", func() string {
			ch := &digest.Challenge{Realm: "test.example", Nonce: s.auth.nonces.issue(now.Add(-6 * time.Minute)), Algorithm: "MD5", QOP: []string{"auth"}}
			return answer(t, ch, "REGISTER", "1001", pw, 1)
		}, authStale, ""},
		{"nonce of a previous process", func() string {
			other, _ := newNonces(time.Minute, 10)
			ch := &digest.Challenge{Realm: "test.example", Nonce: other.issue(now), Algorithm: "MD5", QOP: []string{"auth"}}
			return answer(t, ch, "REGISTER", "1001", pw, 1)
		}, authStale, ""},
		{"method mismatch", func() string { return answer(t, fresh("MD5", true), "INVITE", "1001", pw, 1) }, authFailed, ""},
		{"garbage", func() string { return `Digest realm="test.example", nc=zz` }, authFailed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, registerText)
			if h := tc.header(); h != "" {
				req.AppendHeader(sip.NewHeader("Authorization", h))
			}
			out, err := s.auth.verify(req, now)
			if err != nil {
				t.Fatal(err)
			}
			if out.result != tc.want || out.user != tc.user {
				t.Errorf("verify = %v user %q, want %v user %q", out.result, out.user, tc.want, tc.user)
			}
		})
	}
}

// TestAuthReplay: the same Authorization accepted once, then stale.
func TestAuthReplay(t *testing.T) {
	s := testServer(t)
	c, _ := s.opts.Store.Credential("alice", "1001")
	now := s.now()
	ch := &digest.Challenge{Realm: "test.example", Nonce: s.auth.nonces.issue(now), Algorithm: "MD5", QOP: []string{"auth"}}
	h := answer(t, ch, "REGISTER", "1001", c.Password, 1)
	for i, want := range []authResult{authOK, authStale} {
		req := parseReq(t, registerText)
		req.AppendHeader(sip.NewHeader("Authorization", h))
		out, err := s.auth.verify(req, now)
		if err != nil {
			t.Fatal(err)
		}
		if out.result != want {
			t.Errorf("use %d: %v, want %v", i, out.result, want)
		}
	}
}

// TestChallengeShape: MD5 only by default, SHA-256 after MD5 when asked, 401
// for REGISTER and 407 otherwise; known and unknown users get the same.
func TestChallengeShape(t *testing.T) {
	tests := []struct {
		name     string
		algs     []string
		method   string
		wantCode int
		wantHdr  string
		wantAlgs []string
	}{
		{"register default", nil, "REGISTER", 401, "WWW-Authenticate", []string{"MD5"}},
		{"invite default", nil, "INVITE", 407, "Proxy-Authenticate", []string{"MD5"}},
		{"sha-256 asked for", []string{"sha-256", "md5"}, "REGISTER", 401, "WWW-Authenticate", []string{"MD5", "SHA-256"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := testServer(t, func(o *Options) { o.AuthAlgorithms = tc.algs })
			text := strings.Replace(registerText, "REGISTER sip:", string(tc.method)+" sip:", 1)
			text = strings.Replace(text, "CSeq: 1 REGISTER", "CSeq: 1 "+tc.method, 1)
			res := s.auth.challenge(parseReq(t, text), false, s.now())
			if res.StatusCode != tc.wantCode {
				t.Errorf("status %d, want %d", res.StatusCode, tc.wantCode)
			}
			var algs []string
			for _, h := range res.GetHeaders(tc.wantHdr) {
				ch, err := digest.ParseChallenge(h.Value())
				if err != nil {
					t.Fatal(err)
				}
				if ch.Realm != "test.example" || !ch.SupportsQOP("auth") || ch.Stale {
					t.Errorf("challenge %q", h.Value())
				}
				algs = append(algs, ch.Algorithm)
			}
			if strings.Join(algs, ",") != strings.Join(tc.wantAlgs, ",") {
				t.Errorf("algorithms %v, want %v", algs, tc.wantAlgs)
			}
		})
	}
	if _, err := normalizeAlgorithms([]string{"MD5", "CRC32"}); err == nil {
		t.Error("unsupported algorithm accepted")
	}
}

func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{
		`Digest username="1001", realm="test.example", nonce="abc", uri="sip:test.example", response="0123", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`,
		`Digest username="1001"`, `Basic abc`, `Digest ,,,=`, `Digest nc=ffffffff`,
	} {
		f.Add(s)
	}
	s := testServer(f)
	f.Fuzz(func(t *testing.T, h string) {
		req := parseReq(t, registerText)
		req.AppendHeader(sip.NewHeader("Authorization", h))
		out, err := s.auth.verify(req, s.now())
		if err != nil {
			t.Fatal(err)
		}
		if out.result == authOK {
			t.Fatalf("fuzzed credentials accepted: %q", h)
		}
	})
}
