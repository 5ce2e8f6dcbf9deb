// Package digest owns SIP digest authentication (RFC 7616 / RFC 3261 §22):
// the challenge, the verification of credentials against a password
// lookup, nonces bound to the source address they were sent to (with
// nonce-count replay tracking), and the throttle of failed attempts per
// source and username with a per-source ceiling. It holds no SIP
// transaction and writes no response: the caller sends what Challenge
// builds. It imports no other deskgate package but routing/internal/reply.
package digest

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"deskgate/routing/internal/reply"
)

// Result is what digest verification concluded.
type Result int

const (
	OK        Result = iota
	Challenge        // no usable credentials for our realm: challenge, count nothing
	Stale            // a nonce we did not issue to this source, expired or replayed: challenge with stale=true, count nothing
	Failed           // our valid nonce, but wrong password, unknown user or bad parameters: challenge, count a failure
)

func (r Result) String() string {
	switch r {
	case OK:
		return "ok"
	case Challenge:
		return "challenge"
	case Stale:
		return "stale"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("Result(%d)", int(r))
}

// Outcome is the verdict plus who it is about.
type Outcome struct {
	Result   Result
	User     string // user id (OK only)
	Username string // digest username as sent ("" when there were no parsable credentials)
}

// Lookup returns the user id and password behind a digest username (the
// extension); known is false for unknown usernames.
type Lookup func(username string) (user, password string, known bool, err error)

// Authenticator verifies RFC 7616/3261 digest credentials statelessly: the
// nonce carries its own issue time and is bound to the source address it
// was sent to; nc replay is tracked per nonce.
type Authenticator struct {
	realm  string
	algs   []string // offered, in challenge order
	nonces *nonces
	lookup Lookup
	dummy  string // compared against for unknown users, so they cost the same
	// challenges[stale][i] is algs[i]'s challenge split around its nonce:
	// only the nonce changes from one challenge to the next.
	challenges [2][]challengeText
}

// challengeText is a challenge's header value before and after the nonce.
type challengeText struct{ head, tail string }

// nonceMark stands for the nonce while the challenge templates are built;
// nonces are unpadded base64url, so strconv quoting leaves them as they are.
const nonceMark = "NONCE-MARK"

// New returns an Authenticator for realm offering algs (normalised by
// Algorithms) whose nonces live ttl.
func New(realm string, algs []string, ttl time.Duration, lookup Lookup) (*Authenticator, error) {
	algs, err := Algorithms(algs)
	if err != nil {
		return nil, err
	}
	n, err := newNonces(ttl, 16384)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("dummy password: %w", err)
	}
	a := &Authenticator{realm: realm, algs: algs, nonces: n, lookup: lookup, dummy: hex.EncodeToString(b)}
	for i, stale := range []bool{false, true} {
		for _, alg := range algs {
			ch := digest.Challenge{Realm: realm, Nonce: nonceMark, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
			full := ch.String()
			head, tail, ok := strings.Cut(full, `nonce="`+nonceMark+`"`)
			if !ok || strings.Contains(tail, nonceMark) {
				return nil, fmt.Errorf("digest challenge template for realm %q: nonce not found once in %q", realm, full)
			}
			a.challenges[i] = append(a.challenges[i], challengeText{head: head + `nonce="`, tail: `"` + tail})
		}
	}
	return a, nil
}

// Algorithms checks and de-duplicates the configured challenge
// algorithms and puts them in the order they are offered: MD5 alone by
// default, because some clients (baresip's libre) abort on a challenge
// whose algorithm they do not know; anything else only when configured,
// and then after MD5, because many desk phones (and sipp) answer only the
// first challenge.
func Algorithms(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{"MD5"}, nil
	}
	var md5, rest []string
	for _, a := range in {
		a = strings.ToUpper(strings.TrimSpace(a))
		switch a {
		case "MD5":
			md5 = []string{"MD5"}
		case "SHA-256", "SHA-512-256":
			if !slices.Contains(rest, a) {
				rest = append(rest, a)
			}
		default:
			return nil, fmt.Errorf("digest algorithm %q not supported (MD5, SHA-256, SHA-512-256)", a)
		}
	}
	return append(md5, rest...), nil
}

// credentialsHeader is where the client puts its answer to our challenge,
// in lower case (reply.NameIs).
func credentialsHeader(method sip.RequestMethod) string {
	if method == sip.REGISTER {
		return "authorization"
	}
	return "proxy-authorization"
}

// Credentials are a request's Digest credentials for our realm, found and
// parsed once per request (parsing is most of what checking them costs):
// the throttle asks for the username before Check verifies them.
type Credentials struct {
	c  digest.Credentials
	ok bool // false: none for our realm, or unparsable
}

// Username is the digest username, "" when there are no parsable
// credentials for our realm (what the throttle is asked about before the
// credentials are checked).
func (c Credentials) Username() string {
	if c.ok {
		return c.c.Username
	}
	return ""
}

// Credentials finds and parses the request's credentials for our realm.
func (a *Authenticator) Credentials(req *sip.Request) Credentials {
	c, ok := a.credentials(req)
	return Credentials{c: c, ok: ok}
}

// Username is the digest username of the request's credentials for our
// realm, "" when there are none.
func (a *Authenticator) Username(req *sip.Request) string {
	return a.Credentials(req).Username()
}

// Verify checks the request's credentials for our realm; src is the
// address the request came from (Check, parsing them first).
func (a *Authenticator) Verify(req *sip.Request, src netip.Addr, now time.Time) (Outcome, error) {
	return a.Check(req, a.Credentials(req), src, now)
}

// Check verifies credentials parsed from req by Credentials; src is the
// address the request came from. Only credentials answering a nonce we
// issued to src, still valid, can fail: anything else (made up, stale,
// issued to another address or by a previous process) is Stale, so a
// forged source address can neither count failures against a phone nor
// learn anything about a password.
func (a *Authenticator) Check(req *sip.Request, creds Credentials, src netip.Addr, now time.Time) (Outcome, error) {
	if !creds.ok {
		return Outcome{Result: Challenge}, nil // none, or unparsable: no nonce to hold anyone to
	}
	cred := &creds.c
	out := Outcome{Username: cred.Username}
	issued, ours := a.nonces.unexpired(cred.Nonce, src, now)
	if !ours {
		// Checked before the password, so a made-up nonce is no oracle.
		out.Result = Stale
		return out, nil
	}
	alg := strings.ToUpper(cred.Algorithm)
	if alg == "" {
		alg = "MD5"
	}
	if !a.offers(alg) || cred.Userhash || (cred.QOP != "" && cred.QOP != "auth") ||
		(cred.QOP == "auth" && cred.Nc <= 0) || (cred.QOP == "" && cred.Nc != 0) {
		out.Result = Failed
		return out, nil
	}
	user, password, known, err := a.lookup(cred.Username)
	if err != nil {
		return out, fmt.Errorf("credentials of %q: %w", cred.Username, err)
	}
	if !known {
		password = a.dummy // same work for unknown users: no enumeration by timing
	}
	if !a.matches(req, cred, alg, password) || !known {
		out.Result = Failed
		return out, nil
	}
	if a.nonces.record(cred.Nonce, issued, uint32(cred.Nc), now) != nonceFresh {
		out.Result = Stale
		return out, nil
	}
	out.Result, out.User = OK, user
	return out, nil
}

// credentials finds and parses the Digest credentials for our realm; false
// when there are none or they are unparsable (either way a plain
// challenge).
func (a *Authenticator) credentials(req *sip.Request) (digest.Credentials, bool) {
	name := credentialsHeader(req.Method)
	for _, h := range req.Headers() { // GetHeaders lowercases every header's name, allocating
		if !reply.NameIs(h.Name(), name) {
			continue
		}
		v := strings.TrimSpace(h.Value())
		if !digest.IsDigest(v) {
			continue
		}
		if c, err := readCredentials(v); err == nil && c.Realm == a.realm {
			return c, true
		}
	}
	return digest.Credentials{}, false
}

func (a *Authenticator) offers(alg string) bool {
	for _, o := range a.algs {
		if o == alg {
			return true
		}
	}
	return false
}

// matches recomputes the response (RFC 7616 §3.4.1, as icholy/digest
// computes it: see expectedResponse) and compares it in constant time,
// without case: hex digits.
func (a *Authenticator) matches(req *sip.Request, cred *digest.Credentials, alg, password string) bool {
	var buf [2 * sha256.Size]byte
	exp, ok := expectedResponse(buf[:0], alg, string(req.Method), a.realm, password, cred)
	if !ok || len(cred.Response) != len(exp) {
		return false
	}
	var diff byte
	for i := range exp {
		c := cred.Response[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		diff |= c ^ exp[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// Strip removes the credentials for our realm (and unparsable ones) from a
// request we forward: they stop here (RFC 3261 §22.3).
func (a *Authenticator) Strip(fwd *sip.Request) {
	for _, name := range []string{"Proxy-Authorization", "Authorization"} {
		var keep []sip.Header
		drop := false
		all := fwd.GetHeaders(name)
		for _, h := range all {
			c, err := readCredentials(strings.TrimSpace(h.Value()))
			if err != nil || c.Realm == a.realm {
				drop = true
			} else {
				keep = append(keep, h)
			}
		}
		if !drop {
			continue
		}
		for _, h := range all {
			fwd.RemoveHeader(h.Name()) // by the name as parsed: sipgo compares names case-sensitively
		}
		for _, h := range keep {
			fwd.AppendHeader(h)
		}
	}
}

// Nonce issues a fresh nonce for src (what Challenge puts in its answer).
func (a *Authenticator) Nonce(src netip.Addr, now time.Time) string { return a.nonces.issue(src, now) }

// Challenge builds the 401 (REGISTER) or 407 (everything else) with one
// challenge per configured algorithm, in order, sharing one fresh nonce
// issued to src. Its To tag is reply.Tag's keyed hash of the request (no
// UUID made per challenge): unpredictable without the key, and the same
// for a retransmission of the request.
func (a *Authenticator) Challenge(req *sip.Request, src netip.Addr, stale bool, now time.Time) *sip.Response {
	code, reason, header := 407, "Proxy Authentication Required", "Proxy-Authenticate"
	if req.Method == sip.REGISTER {
		code, reason, header = 401, "Unauthorized", "WWW-Authenticate"
	}
	res := reply.To(req, code, reason, reply.Tag(req))
	nonce := a.nonces.issue(src, now)
	i := 0
	if stale {
		i = 1
	}
	for _, t := range a.challenges[i] {
		res.AppendHeader(sip.NewHeader(header, t.head+nonce+t.tail))
	}
	return res
}
