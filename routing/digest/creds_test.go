package digest

import (
	"strings"
	"testing"
	"unsafe"

	"github.com/icholy/digest"
)

// TestParseCredentialsMatchesLibrary: the quick reading takes what phones
// send and reads it as icholy/digest does; what it declines, readCredentials
// hands to the library, so the answer is the library's either way.
func TestParseCredentialsMatchesLibrary(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h     string
		quick bool // parseCredentials takes it
	}{
		{"sipp", `Digest username="1001",realm="test.example",cnonce="6b8b4567",nc=00000001,qop=auth,uri="sip:127.0.0.1:5080",nonce="AAAB-x_y",response="0123456789abcdef0123456789abcdef",algorithm=MD5`, true},
		{"library format", `Digest username="1001", realm="test.example", nonce="abc", uri="sip:test.example", algorithm=MD5, cnonce="0a4f113b", opaque="op", qop=auth, nc=00000001, response="0123"`, true},
		{"upper-case scheme, spaces around =", `DIGEST  username = "1001" ,realm= "r" , nc = 0000000a`, true},
		{"no qop", `Digest username="1001", realm="test.example", nonce="n", uri="sip:test.example", response="0"`, true},
		{"userhash", `Digest username="ab12", userhash=TRUE, realm="r"`, true},
		{"userhash quoted false", `Digest username="ab12", userhash="false"`, true},
		{"unknown, empty and repeated keys", `Digest foo=bar, =x, username="a", username="b", x-y="", empty=`, true},
		{"trailing spaces", `Digest username="1001"   `, true},
		{"nothing after the scheme", `Digest `, true},
		{"negative nc", `Digest nc=-1`, true},
		{"escaped quote", `Digest username="10\"01", realm="r"`, false},
		{"escaped backslash", `Digest username="a\\b"`, false},
		{"non-ASCII", `Digest username="Jürgen", realm="r"`, false},
		{"invalid UTF-8", "Digest username=\"a\xffb\"", false},
		{"unterminated", `Digest username="1001`, false},
		{"tab", "Digest username=\"1001\",\trealm=\"r\"", false},
		{"no comma", `Digest username="1001" realm="r"`, false},
		{"no equals", `Digest username`, false},
		{"bad nc", `Digest nc=zz`, false},
		{"nc too big", `Digest nc=fffffffff`, false},
		{"basic", `Basic YWxhZGRpbjpvcGVuc2VzYW1l`, false},
		{"short", `Dig`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, werr := digest.ParseCredentials(tc.h)
			got, ok := parseCredentials(tc.h)
			if ok != tc.quick {
				t.Fatalf("quick reading took it: %v, want %v", ok, tc.quick)
			}
			if ok && (werr != nil || got != *want) {
				t.Fatalf("quick reading %+v, library %+v (%v)", got, want, werr)
			}
			rc, err := readCredentials(tc.h)
			if (err != nil) != (werr != nil) {
				t.Fatalf("readCredentials error %v, library's %v", err, werr)
			}
			if err == nil && rc != *want {
				t.Fatalf("readCredentials %+v, library %+v", rc, want)
			}
		})
	}
}

// TestParseCredentialsCopiesKeptValues: the nonce and the username are kept
// by the nonce table and the throttle after the request is gone; they must
// not be slices of the header (which would keep all of it alive).
func TestParseCredentialsCopiesKeptValues(t *testing.T) {
	h := `Digest username="1001", realm="test.example", nonce="nonce-value", uri="sip:test.example", response="0"`
	c, ok := parseCredentials(h)
	if !ok {
		t.Fatal("not taken")
	}
	lo := uintptr(unsafe.Pointer(unsafe.StringData(h)))
	hi := lo + uintptr(len(h))
	for name, v := range map[string]string{"username": c.Username, "nonce": c.Nonce} {
		if p := uintptr(unsafe.Pointer(unsafe.StringData(v))); p >= lo && p < hi {
			t.Errorf("%s %q points into the header", name, v)
		}
	}
}

// FuzzCredentialsMatchLibrary: whenever the quick reading takes a header,
// the library reads the same credentials from it; readCredentials agrees
// with the library on every input.
func FuzzCredentialsMatchLibrary(f *testing.F) {
	for _, s := range []string{
		`Digest username="1001",realm="test.example",cnonce="6b8b4567",nc=00000001,qop=auth,uri="sip:127.0.0.1:5080",nonce="AAAB",response="01",algorithm=MD5`,
		`Digest username="a\"b"`, `Digest userhash=true`, `Digest ,,,=`, `Digest nc=ffffffff`, `digest  a = b ,c="d"`,
		"Digest username=\"\xc3\xbc\"", `Basic x`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		want, werr := digest.ParseCredentials(h)
		if got, ok := parseCredentials(h); ok && (werr != nil || got != *want) {
			t.Fatalf("%q: quick reading %+v, library %+v (%v)", h, got, want, werr)
		}
		rc, err := readCredentials(h)
		if (err != nil) != (werr != nil) || (err == nil && rc != *want) {
			t.Fatalf("%q: readCredentials %+v (%v), library %+v (%v)", h, rc, err, want, werr)
		}
	})
}

// libraryResponse is the response icholy/digest computes for cred, the
// way matches asked for it before expectedResponse.
func libraryResponse(alg, method, realm, password string, cred *digest.Credentials) (string, bool) {
	ch := &digest.Challenge{Realm: realm, Nonce: cred.Nonce, Algorithm: alg, Opaque: cred.Opaque}
	if cred.QOP != "" {
		ch.QOP = []string{cred.QOP}
	}
	exp, err := digest.Digest(ch, digest.Options{Method: method, URI: cred.URI, Username: cred.Username,
		Password: password, Cnonce: cred.Cnonce, Count: cred.Nc})
	if err != nil {
		return "", false
	}
	return exp.Response, true
}

// TestExpectedResponseMatchesLibrary: the response computed without
// icholy/digest is the library's, for every algorithm offered, with and
// without qop, and for the cases the library cannot match (no cnonce: it
// makes one up) it declines.
func TestExpectedResponseMatchesLibrary(t *testing.T) {
	long := strings.Repeat("x", 300) // past the scratch buffer
	for _, alg := range []string{"MD5", "SHA-256", "SHA-512-256"} {
		for _, c := range []digest.Credentials{
			{Username: "1001", Nonce: "AAAB-x_y", URI: "sip:test.example", QOP: "auth", Nc: 1, Cnonce: "6b8b4567"},
			{Username: "1001", Nonce: "n", URI: "sip:127.0.0.1:5080", QOP: "auth", Nc: 0x7fffffff, Cnonce: "c"},
			{Username: "1001", Nonce: "n", URI: "sip:test.example", QOP: "auth", Nc: 0xabc, Cnonce: "c", Opaque: "op"},
			{Username: "1001", Nonce: "n", URI: "sip:test.example"},
			{Username: long, Nonce: long, URI: long, QOP: "auth", Nc: 2, Cnonce: long},
			{Username: "Jürgen", Nonce: "n", URI: "sip:j@test.example"},
		} {
			want, _ := libraryResponse(alg, "REGISTER", "test.example", "pw:with:colons", &c)
			got, ok := expectedResponse(nil, alg, "REGISTER", "test.example", "pw:with:colons", &c)
			if !ok || string(got) != want {
				t.Errorf("%s %+v: %q (%v), library %q", alg, c, got, ok, want)
			}
		}
	}
	for _, tc := range []struct {
		name string
		alg  string
		c    digest.Credentials
	}{
		{"no cnonce", "MD5", digest.Credentials{Nonce: "n", QOP: "auth", Nc: 1}},
		{"auth-int", "MD5", digest.Credentials{Nonce: "n", QOP: "auth-int", Nc: 1, Cnonce: "c"}},
		{"nc zero", "MD5", digest.Credentials{Nonce: "n", QOP: "auth", Cnonce: "c"}},
		{"unknown algorithm", "SHA-1", digest.Credentials{Nonce: "n"}},
		{"session algorithm", "MD5-sess", digest.Credentials{Nonce: "n"}},
	} {
		if got, ok := expectedResponse(nil, tc.alg, "REGISTER", "r", "pw", &tc.c); ok {
			t.Errorf("%s: computed %q, want declined", tc.name, got)
		}
	}
}

// FuzzExpectedResponse: any credentials Check lets through to the
// comparison give the library's response.
func FuzzExpectedResponse(f *testing.F) {
	f.Add("1001", "sip:test.example", "nonce", "cnonce", "pw", 1, true, uint8(0))
	f.Add("", "", "", "", "", 0, false, uint8(2))
	f.Fuzz(func(t *testing.T, user, uri, nonce, cnonce, password string, nc int, qop bool, algi uint8) {
		alg := []string{"MD5", "SHA-256", "SHA-512-256"}[int(algi)%3]
		c := digest.Credentials{Username: user, URI: uri, Nonce: nonce}
		if qop {
			if nc <= 0 || nc >= 1<<31 || cnonce == "" {
				t.Skip("refused by Check")
			}
			c.QOP, c.Nc, c.Cnonce = "auth", nc, cnonce
		}
		want, _ := libraryResponse(alg, "INVITE", "test.example", password, &c)
		got, ok := expectedResponse(nil, alg, "INVITE", "test.example", password, &c)
		if !ok || string(got) != want {
			t.Fatalf("%s %+v: %q (%v), library %q", alg, c, got, ok, want)
		}
	})
}

// TestMatchesResponse: the response compares without case (hex digits, as
// strings.ToLower compared it) and nothing else passes.
func TestMatchesResponse(t *testing.T) {
	a := testAuth(t, "MD5", "SHA-256")
	req := parseReq(t, registerText)
	for _, alg := range []string{"MD5", "SHA-256"} {
		c := digest.Credentials{Username: "1001", Realm: "test.example", Nonce: "n", URI: "sip:test.example",
			QOP: "auth", Nc: 1, Cnonce: "c"}
		resp, _ := libraryResponse(alg, "REGISTER", "test.example", testPassword, &c)
		off := resp[:len(resp)-1] + "0"
		if resp[len(resp)-1] == '0' {
			off = resp[:len(resp)-1] + "1"
		}
		for _, tc := range []struct {
			name, response string
			want           bool
		}{
			{"as computed", resp, true},
			{"upper case", strings.ToUpper(resp), true},
			{"one digit off", off, false},
			{"short", resp[:len(resp)-1], false},
			{"long", resp + "0", false},
			{"empty", "", false},
		} {
			c.Response = tc.response
			if got := a.matches(req, &c, alg, testPassword); got != tc.want {
				t.Errorf("%s %s: matches %v, want %v", alg, tc.name, got, tc.want)
			}
		}
		c.Response = resp
		if a.matches(req, &c, alg, "wrong") {
			t.Errorf("%s: wrong password matches", alg)
		}
	}
}
