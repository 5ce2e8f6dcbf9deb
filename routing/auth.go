package routing

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/routing/digest"
)

// ThrottleOptions bound failed digest authentication (see digest.ThrottleOptions).
type ThrottleOptions = digest.ThrottleOptions

// authenticate runs the failure throttle and digest verification for a
// request that must come from a user. It returns the user id, or false and
// the answer (403 blocked, 500; zero when it sent a 401/407 challenge).
func (s *Server) authenticate(req *sip.Request, tx sip.ServerTransaction, now time.Time) (string, Status, bool) {
	ip, _ := sourceIP(req)
	creds := s.auth.Credentials(req) // parsed once for the throttle and the check
	if _, blocked := s.throttle.Blocked(ip, creds.Username(), now); blocked {
		return "", refuse(403, "Too Many Failed Attempts"), false
	}
	out, err := s.auth.Check(req, creds, ip, now)
	if err != nil {
		s.log.Error("authenticate", "call_id", callID(req), "error", err)
		return "", refuse(500, "Server Internal Error"), false
	}
	switch out.Result {
	case digest.OK:
		return out.User, Status{}, true
	case digest.Failed:
		// Individual failures are routine (phones retry with stale
		// passwords): debug. A block is logged once when it starts.
		s.log.Debug("authentication failed", "source", req.Source(), "username", out.Username,
			"method", string(req.Method))
		b, started := s.throttle.Fail(ip, out.Username, now)
		if started {
			s.log.Warn("authentication blocked after failed attempts", "source", b.Source.String(),
				"username", b.Username, "failures", b.Failures, "until", b.Until.UTC().Format(time.RFC3339))
		} else if b.Source.IsValid() {
			// Another request started the block since the check above.
			return "", refuse(403, "Too Many Failed Attempts"), false
		}
	}
	s.send(tx, s.auth.Challenge(req, ip, out.Result == digest.Stale, now))
	return "", Status{}, false
}

// Block is one refusal after failed authentication, for deskgatectl blocks.
type Block struct {
	Source   string    // IP address
	User     string    // user id behind Username; the username itself when it names no user; "" = the whole source
	Username string    // digest username as sent (the extension); "" = the whole source
	Failures int       // failed attempts that started the block
	Until    time.Time // when it ends by itself
}

// Blocks lists the blocks in force, by source then username.
func (s *Server) Blocks() []Block {
	bs := s.throttle.Blocks(s.now())
	snap := s.opts.Directory()
	out := make([]Block, len(bs))
	for i, b := range bs {
		out[i] = Block{Source: b.Source.String(), User: userOfUsername(snap, b.Username), Username: b.Username,
			Failures: b.Failures, Until: b.Until}
	}
	return out
}

// userOfUsername is the user id whose digest username (extension) this is,
// else the username as sent.
func userOfUsername(snap *directory.Snapshot, username string) string {
	if snap != nil && username != "" {
		if e, ok := snap.ByExtension(username); ok && e.Kind == directory.KindUser && e.User != nil {
			return e.User.ID
		}
	}
	return username
}

// ErrNoBlock means Unblock found nothing to lift.
var ErrNoBlock = errors.New("no such block")

// Unblock lifts blocks: target is a source address (every block of that
// source), or a user id or digest username (that user's blocks from every
// source). It returns how many blocks were lifted, ErrNoBlock if none.
func (s *Server) Unblock(target string) (int, error) {
	now := s.now()
	target = strings.TrimSpace(target)
	if ip, err := netip.ParseAddr(target); err == nil {
		ip = ip.WithZone("").Unmap()
		n := s.throttle.UnblockSource(ip, now)
		if n == 0 {
			return 0, fmt.Errorf("%w for source %s", ErrNoBlock, target)
		}
		s.log.Info("block lifted", "source", ip.String(), "blocks", n)
		return n, nil
	}
	username := target
	if snap := s.opts.Directory(); snap != nil {
		if u, ok := snap.User(target); ok {
			username = u.Extension
		}
	}
	n := s.throttle.UnblockUsername(username, now)
	if username != target {
		n += s.throttle.UnblockUsername(target, now) // a username that happens to equal a user id
	}
	if n == 0 {
		return 0, fmt.Errorf("%w for user %s", ErrNoBlock, target)
	}
	s.log.Info("block lifted", "user", target, "blocks", n)
	return n, nil
}
