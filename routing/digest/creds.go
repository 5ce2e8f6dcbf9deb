package digest

import (
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
