package routing

import (
	"context"
	"hash/maphash"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sipgoHandler adapts sipgo's logging to a daemon facing the network:
// sipgo logs routine outside noise (an unparsable datagram, a stray
// response) at ERROR and INFO, with the raw message attached. Levels are
// lowered one step (ERROR→WARN, WARN→INFO, INFO→DEBUG) and the raw message
// ("data") is never kept, at any level, since it may carry digest
// credentials. Unparsable messages go through junk: sampled per source,
// with no part of the message in the line.
type sipgoHandler struct {
	inner slog.Handler
	junk  *junkLog
}

// sipgoParseFailure is the message sipgo logs for each message it cannot
// parse (UDP datagram or TCP stream chunk), with "data" and "error".
const sipgoParseFailure = "failed to parse"

// sipgoTryingRace is logged when sipgo's 200 ms timer sends an INVITE's
// 100 Trying through a transaction a stateless answer has just ended
// (flood.go): expected under CPU load, nothing was lost; debug only.
const sipgoTryingRace = "send '100 Trying' response failed"

func demote(l slog.Level) slog.Level {
	switch {
	case l >= slog.LevelError:
		return slog.LevelWarn
	case l >= slog.LevelWarn:
		return slog.LevelInfo
	default:
		return slog.LevelDebug
	}
}

func (h sipgoHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, demote(l))
}

func (h sipgoHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == sipgoParseFailure && h.junk != nil {
		var data, reason string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "data":
				data = a.Value.String()
			case "error":
				reason = a.Value.String()
			}
			return true
		})
		h.junk.report(ctx, h.inner, data, reason)
		return nil
	}
	lvl := demote(r.Level)
	if r.Message == sipgoTryingRace {
		lvl = slog.LevelDebug
		if !h.inner.Enabled(ctx, lvl) {
			return nil
		}
	}
	out := slog.NewRecord(r.Time, lvl, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "data" {
			out.AddAttrs(a)
		}
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h sipgoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sipgoHandler{h.inner.WithAttrs(as), h.junk}
}

func (h sipgoHandler) WithGroup(name string) slog.Handler {
	return sipgoHandler{h.inner.WithGroup(name), h.junk}
}

// Limits of the unparsable-message log: per source one line per
// junkPeriod (carrying how many were not logged), and at most
// junkLines lines per junkPeriod in all, whatever the number of sources
// (a UDP source address costs an attacker nothing).
const (
	junkPeriod  = time.Minute
	junkLines   = 10
	junkSources = 1024 // sources remembered; beyond, new sources only count
	junkRecent  = 256  // read-filter slots that map a message back to its source
	junkHashed  = 64   // leading bytes of a message hashed to find it again
)

// junkLog samples the log of unparsable messages. sipgo's parse-failure
// record names no source, so the transport read filter (note) remembers
// which source sent which bytes, keyed by a hash of them; report finds the
// source again from the record's data in the same read goroutine.
type junkLog struct {
	seed maphash.Seed
	now  func() time.Time

	mu      sync.Mutex
	recent  [junkRecent]junkNote
	sources map[netip.Addr]*junkSource
	period  time.Time // start of the current global period
	lines   int       // lines logged in it
	dropped int       // unparsable messages not logged since the last line, all sources
}

type junkNote struct {
	sum       uint64
	src       netip.Addr
	transport string
}

type junkSource struct {
	logged     time.Time // last line for this source
	suppressed int       // not logged since
}

func newJunkLog(now func() time.Time) *junkLog {
	return &junkLog{seed: maphash.MakeSeed(), now: now, sources: make(map[netip.Addr]*junkSource)}
}

// note is the transport read filter: it lets every message through and
// remembers its source for report.
func (j *junkLog) note(p sip.TransportReadProps, data []byte) ([]byte, error) {
	sum := mixLen(maphash.Bytes(j.seed, data[:min(len(data), junkHashed)]), len(data))
	n := junkNote{sum: sum, src: readSource(p.RemoteAddr), transport: p.Transport}
	j.mu.Lock()
	j.recent[sum%junkRecent] = n
	j.mu.Unlock()
	return data, nil
}

// readSource is a read's remote address, without allocating for UDP and
// TCP (it runs for every message).
func readSource(a net.Addr) netip.Addr {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort().Addr().Unmap()
	case *net.TCPAddr:
		return a.AddrPort().Addr().Unmap()
	}
	if a == nil {
		return netip.Addr{}
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// mixLen completes a message's identity: its length and the hash of its
// first junkHashed bytes (every message pays for the hash; two messages
// that share both only risk a line naming the wrong source).
func mixLen(h uint64, n int) uint64 { return h ^ uint64(n)*0x9e3779b97f4a7c15 }

// report logs one unparsable message, or counts it if its source or the
// whole log is over its share. data is used only to find the source.
func (j *junkLog) report(ctx context.Context, h slog.Handler, data, reason string) {
	sum := mixLen(maphash.String(j.seed, data[:min(len(data), junkHashed)]), len(data)) // same as Bytes on the same content
	now := j.now()
	j.mu.Lock()
	var src netip.Addr
	transport := ""
	if n := j.recent[sum%junkRecent]; n.sum == sum {
		src, transport = n.src, n.transport
	}
	if now.Sub(j.period) >= junkPeriod || now.Before(j.period) {
		j.period, j.lines = now, 0
		j.sweepLocked(now)
	}
	s, ok := j.sources[src]
	if !ok {
		if len(j.sources) >= junkSources {
			for a, o := range j.sources {
				if now.Sub(o.logged) >= junkPeriod {
					delete(j.sources, a)
				}
			}
		}
		if len(j.sources) >= junkSources {
			j.dropped++
			j.mu.Unlock()
			return
		}
		s = &junkSource{}
		j.sources[src] = s
	}
	if (ok && now.Sub(s.logged) < junkPeriod && !now.Before(s.logged)) || j.lines >= junkLines {
		s.suppressed++
		j.dropped++
		j.mu.Unlock()
		return
	}
	suppressed, total := s.suppressed, j.dropped
	s.logged, s.suppressed = now, 0
	j.lines++
	j.dropped = 0
	j.mu.Unlock()

	source := "unknown"
	if src.IsValid() {
		source = src.String()
	}
	r := slog.NewRecord(now, slog.LevelWarn, "unparsable SIP message", 0)
	r.AddAttrs(slog.String("source", source), slog.String("transport", transport),
		slog.Int("bytes", len(data)), slog.String("reason", parseReason(reason)),
		slog.Int("suppressed", suppressed), slog.Int("suppressed_total", total))
	_ = h.Handle(ctx, r)
}

// parseReason keeps the general part of a sipgo parse error: sipgo quotes
// the offending line (which may be a digest response) after a colon or in
// quotes, so everything from the first of those on is cut.
func parseReason(err string) string {
	if i := strings.IndexAny(err, `:'"`+"`"); i >= 0 {
		err = err[:i]
	}
	err = strings.TrimSpace(err)
	if len(err) > 60 {
		err = err[:60]
	}
	if err == "" {
		return "unparsable"
	}
	return err
}

// sweepLocked forgets sources whose last line is a period old and that
// have nothing suppressed to report.
func (j *junkLog) sweepLocked(now time.Time) {
	for a, s := range j.sources {
		if now.Sub(s.logged) >= junkPeriod && s.suppressed == 0 {
			delete(j.sources, a)
		}
	}
}
