package routing

import (
	"context"
	"log/slog"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
	"deskgate/routing/presence"
)

const testOffice = `
	version: "unit"
	plan: pro
	timezone: UTC
	users:
	  - id: alice
	    name: Alice Able
	    extension: "1001"
	    numbers: ["+15551230001", "+15551230011"]
	    license: talk
	  - id: bob
	    name: Bob Baker
	    extension: "1002"
	    license: talk
`

// testServer is a Server wired like Run does, without sockets: the
// listener addresses are declared, not bound.
func testServer(t testing.TB, mutate ...func(*Options)) *Server {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	snap := directorytest.MustParse(t, testOffice)
	opts := Options{
		Domain:    "test.example",
		Listen:    []string{"udp:127.0.0.1:5060", "tcp:127.0.0.1:5060"},
		Directory: func() *directory.Snapshot { return snap },
		Store:     db,
		Log:       slog.New(slog.DiscardHandler),
		Now:       func() time.Time { return time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC) },
	}
	for _, m := range mutate {
		m(&opts)
	}
	opts.Presence = newPresence(t, opts)
	s, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	var ls []boundListener
	for _, spec := range s.specs {
		ls = append(ls, boundListener{spec: spec})
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := s.setup(ctx, ls); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.ua.Close() })
	return s
}

// newPresence builds the presence service the daemon would pass in, on
// the options' store, directory and clock.
func newPresence(t testing.TB, o Options) *presence.Service {
	t.Helper()
	p, err := presence.New(presence.Options{Store: o.Store, Log: o.Log, Directory: o.Directory, Now: o.Now})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// parseReq parses a request written with \n line ends.
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

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
