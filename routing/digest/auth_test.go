package digest

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// phoneIP is where parseReq's requests come from.
var phoneIP = netip.MustParseAddr("192.0.2.10")

const testPassword = "s3cret-1001"

// testAuth is an Authenticator for realm test.example that knows one user,
// alice, with username 1001.
func testAuth(t testing.TB, algs ...string) *Authenticator {
	t.Helper()
	a, err := New("test.example", algs, 5*time.Minute, func(username string) (string, string, bool, error) {
		switch username {
		case "1001":
			return "alice", testPassword, true, nil
		case "broken":
			return "", "", false, errors.New("store down")
		}
		return "", "", false, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// parseReq parses a request written with \n line ends, from phoneIP.
func parseReq(t testing.TB, text string) *sip.Request {
	t.Helper()
	text = strings.ReplaceAll(strings.TrimLeft(text, "\n"), "\n", "\r\n")
	msg, err := sip.ParseMessage([]byte(text))
	if err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	req, ok := msg.(*sip.Request)
	if !ok {
		t.Fatalf("not a request: %q", text)
	}
	req.SetSource("192.0.2.10:5062")
	req.SetTransport("UDP")
	return req
}

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
	a := testAuth(t, "MD5", "SHA-256")
	pw := testPassword
	now := t0
	fresh := func(alg string, qop bool) *digest.Challenge {
		ch := &digest.Challenge{Realm: "test.example", Nonce: a.Nonce(phoneIP, now), Algorithm: alg}
		if qop {
			ch.QOP = []string{"auth"}
		}
		return ch
	}
	withNonce := func(nonce string) *digest.Challenge {
		return &digest.Challenge{Realm: "test.example", Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}}
	}
	tests := []struct {
		name     string
		header   func() string // "" = no credentials
		want     Result
		user     string
		username string
	}{
		{"no credentials", func() string { return "" }, Challenge, "", ""},
		{"MD5 qop", func() string { return answer(t, fresh("MD5", true), "REGISTER", "1001", pw, 1) }, OK, "alice", "1001"},
		{"SHA-256 qop", func() string { return answer(t, fresh("SHA-256", true), "REGISTER", "1001", pw, 1) }, OK, "alice", "1001"},
		{"MD5 without qop", func() string { return answer(t, fresh("MD5", false), "REGISTER", "1001", pw, 0) }, OK, "alice", "1001"},
		{"algorithm omitted means MD5", func() string { return answer(t, fresh("", true), "REGISTER", "1001", pw, 1) }, OK, "alice", "1001"},
		{"wrong password", func() string { return answer(t, fresh("MD5", true), "REGISTER", "1001", "nope", 1) }, Failed, "", "1001"},
		{"unknown user", func() string { return answer(t, fresh("MD5", true), "REGISTER", "9999", pw, 1) }, Failed, "", "9999"},
		{"user id is not a username", func() string { return answer(t, fresh("MD5", true), "REGISTER", "alice", pw, 1) }, Failed, "", "alice"},
		{"algorithm not offered", func() string { return answer(t, fresh("SHA-512", true), "REGISTER", "1001", pw, 1) }, Failed, "", "1001"},
		{"other realm is ignored", func() string {
			ch := fresh("MD5", true)
			ch.Realm = "elsewhere"
			return answer(t, ch, "REGISTER", "1001", pw, 1)
		}, Challenge, "", ""},
		{"method mismatch", func() string { return answer(t, fresh("MD5", true), "INVITE", "1001", pw, 1) }, Failed, "", "1001"},
		{"garbage", func() string { return `Digest realm="test.example", nc=zz` }, Challenge, "", ""},
		// A failure counts only for a nonce we issued, still valid, to
		// this source: the rest is Stale whatever the password.
		{"expired nonce, right password", func() string {
			return answer(t, withNonce(a.Nonce(phoneIP, now.Add(-6*time.Minute))), "REGISTER", "1001", pw, 1)
		}, Stale, "", "1001"},
		{"expired nonce, wrong password", func() string {
			return answer(t, withNonce(a.Nonce(phoneIP, now.Add(-6*time.Minute))), "REGISTER", "1001", "nope", 1)
		}, Stale, "", "1001"},
		{"nonce of a previous process", func() string {
			other := testAuth(t)
			return answer(t, withNonce(other.Nonce(phoneIP, now)), "REGISTER", "1001", pw, 1)
		}, Stale, "", "1001"},
		{"nonce issued to another address, right password", func() string {
			return answer(t, withNonce(a.Nonce(netip.MustParseAddr("192.0.2.99"), now)), "REGISTER", "1001", pw, 1)
		}, Stale, "", "1001"},
		{"nonce issued to another address, wrong password", func() string {
			return answer(t, withNonce(a.Nonce(netip.MustParseAddr("192.0.2.99"), now)), "REGISTER", "1001", "nope", 1)
		}, Stale, "", "1001"},
		{"made-up nonce, wrong password", func() string {
			return answer(t, withNonce("bm90LWEtbm9uY2Utb2YtdGhlIGRhZW1vbg"), "REGISTER", "1001", "nope", 1)
		}, Stale, "", "1001"},
		{"made-up nonce, unknown user", func() string {
			return answer(t, withNonce("x"), "REGISTER", "9999", "nope", 1)
		}, Stale, "", "9999"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, registerText)
			if h := tc.header(); h != "" {
				req.AppendHeader(sip.NewHeader("Authorization", h))
			}
			out, err := a.Verify(req, phoneIP, now)
			if err != nil {
				t.Fatal(err)
			}
			if out.Result != tc.want || out.User != tc.user || out.Username != tc.username {
				t.Errorf("Verify = %v user %q username %q, want %v user %q username %q",
					out.Result, out.User, out.Username, tc.want, tc.user, tc.username)
			}
			if got := a.Username(req); got != tc.username {
				t.Errorf("Username = %q, want %q", got, tc.username)
			}
		})
	}
}

// TestAuthLookupError: a failing password store is an error, not a verdict.
func TestAuthLookupError(t *testing.T) {
	a := testAuth(t)
	ch := &digest.Challenge{Realm: "test.example", Nonce: a.Nonce(phoneIP, t0), Algorithm: "MD5", QOP: []string{"auth"}}
	req := parseReq(t, registerText)
	req.AppendHeader(sip.NewHeader("Authorization", answer(t, ch, "REGISTER", "broken", "x", 1)))
	if _, err := a.Verify(req, phoneIP, t0); err == nil {
		t.Error("lookup error not reported")
	}
}

// TestAuthReplay: the same Authorization accepted once, then stale.
func TestAuthReplay(t *testing.T) {
	a := testAuth(t)
	ch := &digest.Challenge{Realm: "test.example", Nonce: a.Nonce(phoneIP, t0), Algorithm: "MD5", QOP: []string{"auth"}}
	h := answer(t, ch, "REGISTER", "1001", testPassword, 1)
	for i, want := range []Result{OK, Stale} {
		req := parseReq(t, registerText)
		req.AppendHeader(sip.NewHeader("Authorization", h))
		out, err := a.Verify(req, phoneIP, t0)
		if err != nil {
			t.Fatal(err)
		}
		if out.Result != want {
			t.Errorf("use %d: %v, want %v", i, out.Result, want)
		}
	}
}

// TestChallengeShape: MD5 only by default, SHA-256 after MD5 when asked,
// 401 for REGISTER and 407 otherwise; known and unknown users get the
// same; the nonce is good from the address challenged and nowhere else.
func TestChallengeShape(t *testing.T) {
	tests := []struct {
		name     string
		algs     []string
		method   string
		stale    bool
		wantCode int
		wantHdr  string
		wantAlgs []string
	}{
		{"register default", nil, "REGISTER", false, 401, "WWW-Authenticate", []string{"MD5"}},
		{"invite default", nil, "INVITE", false, 407, "Proxy-Authenticate", []string{"MD5"}},
		{"sha-256 asked for", []string{"sha-256", "md5", "SHA-256"}, "REGISTER", false, 401, "WWW-Authenticate", []string{"MD5", "SHA-256"}},
		{"sha-256 alone", []string{" sha-256 "}, "INVITE", false, 407, "Proxy-Authenticate", []string{"SHA-256"}},
		{"stale", nil, "REGISTER", true, 401, "WWW-Authenticate", []string{"MD5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := testAuth(t, tc.algs...)
			text := strings.Replace(registerText, "REGISTER sip:", string(tc.method)+" sip:", 1)
			text = strings.Replace(text, "CSeq: 1 REGISTER", "CSeq: 1 "+tc.method, 1)
			res := a.Challenge(parseReq(t, text), phoneIP, tc.stale, t0)
			if res.StatusCode != tc.wantCode {
				t.Errorf("status %d, want %d", res.StatusCode, tc.wantCode)
			}
			var algs []string
			for _, h := range res.GetHeaders(tc.wantHdr) {
				ch, err := digest.ParseChallenge(h.Value())
				if err != nil {
					t.Fatal(err)
				}
				if ch.Realm != "test.example" || !ch.SupportsQOP("auth") || ch.Stale != tc.stale {
					t.Errorf("challenge %q", h.Value())
				}
				if !a.nonces.valid(ch.Nonce, phoneIP, t0) || a.nonces.valid(ch.Nonce, netip.MustParseAddr("192.0.2.11"), t0) {
					t.Errorf("nonce %q is not bound to the challenged address", ch.Nonce)
				}
				algs = append(algs, ch.Algorithm)
			}
			if strings.Join(algs, ",") != strings.Join(tc.wantAlgs, ",") {
				t.Errorf("algorithms %v, want %v", algs, tc.wantAlgs)
			}
		})
	}
	if _, err := Algorithms([]string{"MD5", "CRC32"}); err == nil {
		t.Error("unsupported algorithm accepted")
	}
}

// TestStrip: our realm's credentials and broken ones go, another realm's stay.
func TestStrip(t *testing.T) {
	a := testAuth(t)
	req := parseReq(t, strings.Replace(registerText, "Expires: 300", "Expires: 300\n"+
		`Proxy-Authorization: Digest username="1001", realm="test.example", nonce="n", uri="sip:x", response="r"`+"\n"+
		`Proxy-Authorization: Digest username="up", realm="upstream", nonce="n", uri="sip:x", response="r"`+"\n"+
		`Authorization: Basic Zm9v`, 1))
	a.Strip(req)
	pa := req.GetHeaders("Proxy-Authorization")
	if len(pa) != 1 || !strings.Contains(pa[0].Value(), `realm="upstream"`) {
		t.Errorf("Proxy-Authorization after Strip: %v", pa)
	}
	if au := req.GetHeaders("Authorization"); len(au) != 0 {
		t.Errorf("Authorization after Strip: %v", au)
	}
}

func FuzzParseCredentials(f *testing.F) {
	for _, s := range []string{
		`Digest username="1001", realm="test.example", nonce="abc", uri="sip:test.example", response="0123", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"`,
		`Digest username="1001"`, `Basic abc`, `Digest ,,,=`, `Digest nc=ffffffff`,
	} {
		f.Add(s)
	}
	a := testAuth(f)
	f.Fuzz(func(t *testing.T, h string) {
		req := parseReq(t, registerText)
		req.AppendHeader(sip.NewHeader("Authorization", h))
		out, err := a.Verify(req, phoneIP, t0)
		if err != nil {
			t.Fatal(err)
		}
		if out.Result == OK {
			t.Fatalf("fuzzed credentials accepted: %q", h)
		}
	})
}

// TestChallengeTextMatchesLibrary: the precomputed challenge text is what
// icholy/digest formats for the same challenge, for every algorithm, stale
// or not, and realms that need quoting or contain the template's mark.
func TestChallengeTextMatchesLibrary(t *testing.T) {
	for _, realm := range []string{"test.example", `we"ird\realm`, "NONCE-MARK.example", `nonce="NONCE-MARK"`} {
		a, err := New(realm, []string{"MD5", "SHA-256", "SHA-512-256"}, 5*time.Minute,
			func(string) (string, string, bool, error) { return "", "", false, nil })
		if err != nil {
			t.Fatal(err)
		}
		for _, stale := range []bool{false, true} {
			res := a.Challenge(parseReq(t, registerText), phoneIP, stale, t0)
			hs := res.GetHeaders("WWW-Authenticate")
			if len(hs) != len(a.algs) {
				t.Fatalf("%d challenges, want %d", len(hs), len(a.algs))
			}
			for i, h := range hs {
				ch, err := digest.ParseChallenge(h.Value())
				if err != nil {
					t.Fatal(err)
				}
				want := (&digest.Challenge{Realm: realm, Nonce: ch.Nonce, Algorithm: a.algs[i],
					QOP: []string{"auth"}, Stale: stale}).String()
				if h.Value() != want {
					t.Errorf("realm %q stale %v: challenge\n%s\nwant\n%s", realm, stale, h.Value(), want)
				}
			}
		}
	}
}

// TestCredentialsHeaderAnyCase: credentials are found under any ASCII case
// of the header's name, and only under the method's header.
func TestCredentialsHeaderAnyCase(t *testing.T) {
	a := testAuth(t)
	cred := `Digest username="1001", realm="test.example", nonce="n", uri="sip:test.example", response="0"`
	for _, tc := range []struct {
		header string
		want   string
	}{{"Authorization", "1001"}, {"authorization", "1001"}, {"AUTHORIZATION", "1001"}, {"Proxy-Authorization", ""}, {"Authorizatioň", ""}} {
		text := strings.Replace(registerText, "Content-Length: 0", tc.header+": "+cred+"\nContent-Length: 0", 1)
		if got := a.Credentials(parseReq(t, text)).Username(); got != tc.want {
			t.Errorf("%s: username %q, want %q", tc.header, got, tc.want)
		}
	}
}
