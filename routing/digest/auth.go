package routing

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

// authResult is what digest verification concluded.
type authResult int

const (
	authOK        authResult = iota
	authChallenge            // no credentials for our realm: challenge
	authStale                // right password, unusable nonce: challenge with stale=true
	authFailed               // wrong password, unknown user or bad credentials: challenge, count a failure
)

func (r authResult) String() string {
	switch r {
	case authOK:
		return "ok"
	case authChallenge:
		return "challenge"
	case authStale:
		return "stale"
	case authFailed:
		return "failed"
	}
	return fmt.Sprintf("authResult(%d)", int(r))
}

// authOutcome is the verdict plus, on authOK, who authenticated.
type authOutcome struct {
	result   authResult
	user     string // user id (authOK only)
	username string // digest username as sent (for logs)
}

// secretLookup returns the user id and password behind a digest username
// (the extension); known is false for unknown usernames.
type secretLookup func(username string) (user, password string, known bool, err error)

// authenticator verifies RFC 7616/3261 digest credentials statelessly: the
// nonce carries its own issue time, nc replay is tracked per nonce.
type authenticator struct {
	realm  string
	algs   []string // offered, in challenge order
	nonces *nonces
	lookup secretLookup
	dummy  string // compared against for unknown users, so they cost the same
}

func newAuthenticator(realm string, algs []string, ttl time.Duration, lookup secretLookup) (*authenticator, error) {
	n, err := newNonces(ttl, 16384)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("dummy password: %w", err)
	}
	return &authenticator{realm: realm, algs: algs, nonces: n, lookup: lookup, dummy: hex.EncodeToString(b)}, nil
}

// normalizeAlgorithms upper-cases, checks and de-duplicates the configured
// challenge order; empty means MD5 then SHA-256 (SPEC §4: many phones and
// sipp read only the first challenge).
func normalizeAlgorithms(in []string) ([]string, error) {
	if len(in) == 0 {
		return []string{"MD5", "SHA-256"}, nil
	}
	var out []string
	for _, a := range in {
		a = strings.ToUpper(strings.TrimSpace(a))
		switch a {
		case "MD5", "SHA-256", "SHA-512-256":
		default:
			return nil, fmt.Errorf("digest algorithm %q not supported (MD5, SHA-256, SHA-512-256)", a)
		}
		dup := false
		for _, o := range out {
			dup = dup || o == a
		}
		if !dup {
			out = append(out, a)
		}
	}
	return out, nil
}

// credentialsHeader is where the client puts its answer to our challenge.
func credentialsHeader(method sip.RequestMethod) string {
	if method == sip.REGISTER {
		return "Authorization"
	}
	return "Proxy-Authorization"
}

// verify checks the request's credentials for our realm.
func (a *authenticator) verify(req *sip.Request, now time.Time) (authOutcome, error) {
	cred, ok := a.credentials(req)
	if !ok {
		return authOutcome{result: authChallenge}, nil
	}
	if cred == nil {
		return authOutcome{result: authFailed}, nil // unparsable credentials for our realm
	}
	out := authOutcome{username: cred.Username}
	alg := strings.ToUpper(cred.Algorithm)
	if alg == "" {
		alg = "MD5"
	}
	if !a.offers(alg) || cred.Userhash || (cred.QOP != "" && cred.QOP != "auth") ||
		(cred.QOP == "auth" && cred.Nc <= 0) || (cred.QOP == "" && cred.Nc != 0) {
		out.result = authFailed
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
		out.result = authFailed
		return out, nil
	}
	if a.nonces.use(cred.Nonce, uint32(cred.Nc), now) != nonceFresh {
		out.result = authStale
		return out, nil
	}
	out.result, out.user = authOK, user
	return out, nil
}

// credentials finds the Digest credentials for our realm. ok is false when
// there are none; cred is nil when they are there but unparsable.
func (a *authenticator) credentials(req *sip.Request) (cred *digest.Credentials, ok bool) {
	for _, h := range req.GetHeaders(credentialsHeader(req.Method)) {
		v := strings.TrimSpace(h.Value())
		if !digest.IsDigest(v) {
			continue
		}
		c, err := digest.ParseCredentials(v)
		if err != nil {
			ok = true // ours or not, it is broken: a failure if nothing else matches
			continue
		}
		if c.Realm == a.realm {
			return c, true
		}
	}
	return nil, ok
}

func (a *authenticator) offers(alg string) bool {
	for _, o := range a.algs {
		if o == alg {
			return true
		}
	}
	return false
}

// matches recomputes the response (passing the client's cnonce and nc
// through, libs.md §1.9) and compares in constant time.
func (a *authenticator) matches(req *sip.Request, cred *digest.Credentials, alg, password string) bool {
	ch := &digest.Challenge{Realm: a.realm, Nonce: cred.Nonce, Algorithm: alg, Opaque: cred.Opaque}
	if cred.QOP != "" {
		ch.QOP = []string{cred.QOP}
	}
	exp, err := digest.Digest(ch, digest.Options{
		Method:   string(req.Method),
		URI:      cred.URI,
		Username: cred.Username,
		Password: password,
		Cnonce:   cred.Cnonce,
		Count:    cred.Nc,
	})
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(exp.Response), []byte(strings.ToLower(cred.Response))) == 1
}

// strip removes the credentials for our realm from a request we forward.
func (a *authenticator) strip(fwd *sip.Request) {
	for _, name := range []string{"Proxy-Authorization", "Authorization"} {
		for _, h := range fwd.GetHeaders(name) {
			c, err := digest.ParseCredentials(strings.TrimSpace(h.Value()))
			if err != nil || c.Realm == a.realm {
				removeHeader(fwd, h)
			}
		}
	}
}

// challenge builds the 401 (REGISTER) or 407 (everything else) with one
// challenge per configured algorithm, in order, sharing one fresh nonce.
func (a *authenticator) challenge(req *sip.Request, stale bool, now time.Time) *sip.Response {
	code, reason, header := 407, "Proxy Authentication Required", "Proxy-Authenticate"
	if req.Method == sip.REGISTER {
		code, reason, header = 401, "Unauthorized", "WWW-Authenticate"
	}
	res := sip.NewResponseFromRequest(req, code, reason, nil)
	nonce := a.nonces.issue(now)
	for _, alg := range a.algs {
		ch := digest.Challenge{Realm: a.realm, Nonce: nonce, Algorithm: alg, QOP: []string{"auth"}, Stale: stale}
		res.AppendHeader(sip.NewHeader(header, ch.String()))
	}
	return res
}

// authenticate runs the failure throttle and digest verification for a
// request that must come from a user. It returns the user id, or false once
// it has answered the request (403 throttled, 401/407 challenge, 500).
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, now time.Time) (string, bool) {
	ip, _ := sourceIP(req)
	if s.throttle.blocked(ip, now) {
		s.respond(req, tx, 403, "Too Many Failed Attempts")
		return "", false
	}
	out, err := s.auth.verify(req, now)
	if err != nil {
		s.log.Error("authenticate", "call_id", callID(req), "error", err)
		s.respond(req, tx, 500, "Server Internal Error")
		return "", false
	}
	switch out.result {
	case authOK:
		return out.user, true
	case authFailed:
		// Individual failures are routine (phones retry with stale
		// passwords): debug. A block is logged once per source.
		s.log.Debug("authentication failed", "source", req.Source(), "username", out.username,
			"method", string(req.Method))
		if s.throttle.fail(ip, now) {
			s.log.Warn("source throttled after failed authentications", "source", ip.String(),
				"username", out.username, "block", s.throttle.opts.Block)
		}
	}
	s.send(tx, s.auth.challenge(req, out.result == authStale, now))
	return "", false
}
