package daemon

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/coreos/go-systemd/v22/journal"

	"deskgate/daemon/config"
)

// LoadConfig reads and validates deskgate.yaml. Relative paths in it are
// resolved against the file's own directory, so a config works from any
// working directory (make run uses testdata/demo/deskgate.yaml).
func LoadConfig(path string) (*config.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	cfg, err := config.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	base := filepath.Dir(path)
	for _, p := range []*string{&cfg.StateDir, &cfg.Directory.File, &cfg.Directory.API.TokenFile, &cfg.Control.Socket} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	// Under systemd, StateDirectory= and RuntimeDirectory= name the writable
	// places; they replace the paths the config leaves at their defaults.
	if env := os.Getenv("STATE_DIRECTORY"); env != "" && cfg.StateDir == config.DefaultStateDir {
		cfg.StateDir = filepath.SplitList(env)[0]
	}
	if env := os.Getenv("RUNTIME_DIRECTORY"); env != "" && cfg.Control.Socket == config.DefaultSocket {
		cfg.Control.Socket = filepath.Join(filepath.SplitList(env)[0], "control.sock")
	}
	return cfg, nil
}

// loadConfig is LoadConfig with the command line's overrides.
func loadConfig(opts Options) (*config.Config, error) {
	cfg, err := LoadConfig(opts.ConfigPath)
	if err != nil {
		return nil, err
	}
	if opts.DirectoryFile != "" {
		cfg.Directory.File = opts.DirectoryFile
		cfg.Directory.API.URL = ""
	}
	return cfg, nil
}

// newLogger logs to stderr; under journald it leaves out the time stamp,
// which the journal adds itself.
func newLogger(w io.Writer, level *slog.LevelVar) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if journaled, _ := journal.StderrIsJournalStream(); journaled && w == os.Stderr {
		opts.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func (d *Daemon) setLevel(s string) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		l = slog.LevelInfo
	}
	d.level.Set(l)
}

// oneLine folds a multi-line message for STATUS= and one-line errors.
func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		n := strings.Count(s, "\n")
		s = fmt.Sprintf("%s (and %d more)", s[:i], n)
	}
	return s
}
