package routing

import (
	"context"
	"log/slog"
)

// sipgoHandler adapts sipgo's logging to a daemon facing the network:
// sipgo logs routine outside noise (an unparsable datagram, a stray
// response) at ERROR and INFO, with the raw message attached. Levels are
// lowered one step (ERROR→WARN, WARN→INFO, INFO→DEBUG) and the raw message
// ("data") is kept only at DEBUG, since it may carry digest credentials.
type sipgoHandler struct {
	inner slog.Handler
}

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
	lvl := demote(r.Level)
	if r.Message == sipgoTryingRace {
		lvl = slog.LevelDebug
		if !h.inner.Enabled(ctx, lvl) {
			return nil
		}
	}
	out := slog.NewRecord(r.Time, lvl, r.Message, r.PC)
	r.Attrs(func(a slog.Attr) bool {
		if a.Key != "data" || lvl == slog.LevelDebug {
			out.AddAttrs(a)
		}
		return true
	})
	return h.inner.Handle(ctx, out)
}

func (h sipgoHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sipgoHandler{h.inner.WithAttrs(as)}
}

func (h sipgoHandler) WithGroup(name string) slog.Handler {
	return sipgoHandler{h.inner.WithGroup(name)}
}
