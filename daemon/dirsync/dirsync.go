// Package dirsync owns fetching the office directory document from where it
// lives: a watched file (FileSource) or an upstream HTTP API polled with ETags
// and backoff (APISource). Sources only deliver raw bytes and their origin;
// parsing, validation and the snapshot swap belong to the daemon's Apply
// callback. dirsync imports nothing of deskgate's.
package dirsync

import (
	"context"
	"log/slog"
)

// Origins passed to Apply and returned by Source.Origin.
const (
	OriginFile = "file"
	OriginAPI  = "api"
)

// Apply is called with each new document; it returns an error when the
// document was rejected (invalid). Each Run calls it from one goroutine,
// never concurrently; raw is a fresh slice the callee may keep.
type Apply func(ctx context.Context, raw []byte, origin string) error

// Source is where the directory document comes from.
type Source interface {
	// Origin is OriginFile or OriginAPI.
	Origin() string
	// Fetch reads the document now (start-up, SIGHUP). It does not change
	// what Run considers already delivered.
	Fetch(ctx context.Context) ([]byte, error)
	// Run delivers the current document once, then every change, until ctx
	// is done; it returns nil on cancel. report receives fetch errors
	// (unreadable file, HTTP error, timeout, too large); rejections by apply
	// are not reported, the daemon already knows them. report(nil) follows
	// every successful fetch, so the daemon can clear an earlier fetch error.
	Run(ctx context.Context, apply Apply, report func(error)) error
}

// Compile-time checks that both sources satisfy Source.
var (
	_ Source = (*FileSource)(nil)
	_ Source = (*APISource)(nil)
)

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

func orNoReport(report func(error)) func(error) {
	if report == nil {
		return func(error) {}
	}
	return report
}
