package digest

import (
	"crypto/md5"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/icholy/digest"
)

// readCredentials is digest.ParseCredentials: parseCredentials's quick
// reading when it takes s, else the library's.
func readCredentials(s string) (digest.Credentials, error) {
	if c, ok := parseCredentials(s); ok {
		return c, nil
	}
	c, err := digest.ParseCredentials(s)
	if err != nil {
		return digest.Credentials{}, err
	}
	return *c, nil
}

// parseCredentials is digest.ParseCredentials without its cost: the
// library reads the header through a bufio.Reader (a 4 KB buffer) and
// builds every value rune by rune, more than half of what a REGISTER's
// handling allocates. This reads the same grammar (the library's: values
// are identifiers or quoted strings, pairs separated by commas, only
// spaces skipped) straight from s and slices the values out of it. It
// takes only the plain case: a quoted value with a backslash or a byte
// outside ASCII, anything the library would refuse, and a bad nc give
// ok=false, and the caller asks the library, whose reading stays the
// reference (FuzzCredentialsMatchLibrary holds this one to it).
//
// The nonce and the username are copied: they outlive the request (the
// nonce table's key, the throttle's), and a slice would keep the whole
// header alive with them.
func parseCredentials(s string) (c digest.Credentials, ok bool) {
	s, ok = digest.CutPrefix(s)
	if !ok {
		return c, false
	}
	i := 0
	for n := 0; ; n++ {
		i = skipSpaces(s, i)
		if i == len(s) {
			break
		}
		if n > 0 {
			if s[i] != ',' {
				return c, false
			}
			i = skipSpaces(s, i+1)
		}
		start := i
		i = skipIdent(s, i)
		key := s[start:i]
		i = skipSpaces(s, i)
		if i == len(s) || s[i] != '=' {
			return c, false
		}
		i = skipSpaces(s, i+1)
		var value string
		if i < len(s) && s[i] == '"' {
			end := i + 1
			for end < len(s) && s[end] != '"' {
				if s[end] == '\\' || s[end] >= 0x80 {
					return c, false // escapes and runes: the library's reading
				}
				end++
			}
			if end == len(s) {
				return c, false // unterminated
			}
			value, i = s[i+1:end], end+1
		} else {
			start := i
			i = skipIdent(s, i)
			value = s[start:i]
		}
		switch key {
		case "username":
			c.Username = value
		case "realm":
			c.Realm = value
		case "nonce":
			c.Nonce = value
		case "uri":
			c.URI = value
		case "response":
			c.Response = value
		case "algorithm":
			c.Algorithm = value
		case "cnonce":
			c.Cnonce = value
		case "opaque":
			c.Opaque = value
		case "qop":
			c.QOP = value
		case "nc":
			nc, err := strconv.ParseInt(value, 16, 32)
			if err != nil {
				return c, false
			}
			c.Nc = int(nc)
		case "userhash":
			c.Userhash = strings.EqualFold(value, "true") // ASCII here: ToLower's answer
		}
	}
	c.Username, c.Nonce = strings.Clone(c.Username), strings.Clone(c.Nonce)
	return c, true
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// skipIdent passes the library's identifier bytes: letters, digits, '-'.
func skipIdent(s string, i int) int {
	for i < len(s) {
		b := s[i]
		if !('a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '-') {
			break
		}
		i++
	}
	return i
}

// expectedResponse appends to dst the response a client knowing password
// sends with cred (RFC 7616 §3.4.1 with qop=auth, RFC 2069's without qop),
// in lower-case hex; false for what icholy/digest.Digest, which computed it
// before, could not match (an algorithm it does not know, qop=auth without
// a cnonce: it would make one up) and for what Check refuses before
// asking (another qop, an nc not above zero). It is the library's arithmetic
// without its allocations (a hash object, a string per step, fmt for nc);
// TestExpectedResponseMatchesLibrary holds the two together. The nc is the
// parsed count written as eight hex digits, as the library writes it.
func expectedResponse(dst []byte, alg, method, realm, password string, cred *digest.Credentials) ([]byte, bool) {
	switch alg {
	case "MD5", "SHA-256", "SHA-512-256":
	default:
		return dst, false
	}
	if cred.QOP != "" && (cred.QOP != "auth" || cred.Cnonce == "" || cred.Nc <= 0) {
		return dst, false // Check refuses these before asking
	}
	var scratch [256]byte
	var ha1, ha2 [2 * sha512.Size256]byte
	b := append(scratch[:0], cred.Username...)
	b = append(append(append(append(b, ':'), realm...), ':'), password...)
	h1 := hexHash(ha1[:0], alg, b)
	b = append(append(append(scratch[:0], method...), ':'), cred.URI...)
	h2 := hexHash(ha2[:0], alg, b)
	b = append(append(append(scratch[:0], h1...), ':'), cred.Nonce...)
	if cred.QOP != "" {
		// 0 < Nc < 1<<31, so %08x is eight digits at most and
		// AppendInt's, zero-padded, is the same text.
		var nc [16]byte
		n := strconv.AppendInt(nc[:0], int64(cred.Nc), 16)
		b = append(b, ':')
		for range 8 - len(n) {
			b = append(b, '0')
		}
		b = append(append(append(append(append(b, n...), ':'), cred.Cnonce...), ':'), cred.QOP...)
	}
	b = append(append(b, ':'), h2...)
	return hexHash(dst, alg, b), true
}

// hexHash appends alg's digest of data in lower-case hex.
func hexHash(dst []byte, alg string, data []byte) []byte {
	switch alg {
	case "SHA-256":
		s := sha256.Sum256(data)
		return hex.AppendEncode(dst, s[:])
	case "SHA-512-256":
		s := sha512.Sum512_256(data)
		return hex.AppendEncode(dst, s[:])
	}
	s := md5.Sum(data)
	return hex.AppendEncode(dst, s[:])
}
