package daemon

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"deskgate/daemon/config"
	"deskgate/daemon/directory/directorytest"
)

// benchOffice writes a generated 1,000-user office and a config using it.
func benchOffice(b *testing.B) (*config.Config, []byte) {
	b.Helper()
	dir := b.TempDir()
	raw := directorytest.GenerateOffice(1000, 50)
	office := filepath.Join(dir, "office.yaml")
	if err := os.WriteFile(office, raw, 0o644); err != nil {
		b.Fatal(err)
	}
	cfg := config.Default()
	cfg.Domain = "bench.example.test"
	cfg.StateDir = filepath.Join(dir, "state")
	cfg.Directory.File = office
	cfg.Control.Socket = filepath.Join(dir, "control.sock")
	cfg.Log.Level = "error"
	return &cfg, raw
}

// BenchmarkStartup1000Users measures a start up to a routable directory:
// open the state db, read and validate the office, swap it in and keep it
// as the last good copy.
func BenchmarkStartup1000Users(b *testing.B) {
	cfg, _ := benchOffice(b)
	ctx := context.Background()
	for b.Loop() {
		d := newDaemon(Options{Stderr: io.Discard}, cfg)
		if err := d.start(ctx); err != nil {
			b.Fatal(err)
		}
		if n := len(d.snapshot().Users()); n != 1000 {
			b.Fatalf("%d users", n)
		}
		d.db.Close()
	}
}

// BenchmarkReload1000Users measures applying a changed 1,000-user directory.
func BenchmarkReload1000Users(b *testing.B) {
	cfg, raw := benchOffice(b)
	ctx := context.Background()
	d := newDaemon(Options{Stderr: io.Discard}, cfg)
	if err := d.start(ctx); err != nil {
		b.Fatal(err)
	}
	defer d.db.Close()
	re := regexp.MustCompile(`(?m)^version:.*$`)
	docs := [2][]byte{}
	for i := range docs {
		docs[i] = re.ReplaceAll(raw, []byte(fmt.Sprintf("version: \"bench-%d\"", i)))
	}
	i := 0
	for b.Loop() {
		i++
		if err := d.dir.apply(ctx, docs[i%2], "file"); err != nil {
			b.Fatal(err)
		}
	}
}
