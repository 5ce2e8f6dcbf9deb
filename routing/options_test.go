package routing

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
)

// New refuses options without their required parts; the presence service
// is the daemon's to build (routing has no fallback of its own).
func TestNewRequires(t *testing.T) {
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	snap := directorytest.MustParse(t, testOffice)
	full := Options{Domain: "test.example", Listen: []string{"udp:127.0.0.1:0"},
		Directory: func() *directory.Snapshot { return snap }, Store: db, Log: slog.New(slog.DiscardHandler)}
	full.Presence = newPresence(t, full)
	if _, err := New(full); err != nil {
		t.Fatalf("complete options refused: %v", err)
	}
	tests := []struct {
		want string
		drop func(*Options)
	}{
		{"domain", func(o *Options) { o.Domain = "" }},
		{"listen", func(o *Options) { o.Listen = nil }},
		{"directory", func(o *Options) { o.Directory = nil }},
		{"store", func(o *Options) { o.Store = nil }},
		{"presence", func(o *Options) { o.Presence = nil }},
	}
	for _, tt := range tests {
		o := full
		tt.drop(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("without %s: %v", tt.want, err)
		}
	}
}
