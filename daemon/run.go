// Package daemon owns deskgated's lifecycle: configuration loading, the
// errgroup of services, systemd notification, directory reloads and the
// control API. It is the only package that imports every other part; nothing
// imports it except cmd/deskgated.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"deskgate/daemon/config"
	"deskgate/daemon/directory"
	"deskgate/daemon/dirsync"
	"deskgate/daemon/store"
	"deskgate/provisioning"
	"deskgate/routing"
	"deskgate/routing/presence"
)

// Options are what cmd/deskgated hands to Run.
type Options struct {
	ConfigPath    string
	DirectoryFile string // replaces directory.file when set
	Version       string
	Stderr        io.Writer // log output; default os.Stderr
}

// stopGrace bounds the clean stop after SIGTERM (a clean stop within 5 s is
// promised). Every service stops within its own shorter budget (routing's
// DrainTimeout 2.5 s, the HTTP servers' 2 s), all in parallel, so the store
// is closed only after they have returned.
const stopGrace = 4 * time.Second

// Daemon is one running deskgated.
type Daemon struct {
	opts   Options
	log    *slog.Logger
	level  *slog.LevelVar
	cfg    atomic.Pointer[config.Config]
	db     *store.DB
	dir    *dirState
	source dirsync.Source
	sip    *routing.Server
	// presence is the DND / away service: built here and shared by routing
	// (calls, feature codes, key LEDs) and the control API.
	presence *presence.Service
	prov     *provisioning.Server // nil: provisioning disabled

	notify  *notifier
	started time.Time
	ready   atomic.Bool
	reloads chan reloadReq

	warnMu    sync.Mutex
	warnings  []string // services that could not start (non-fatal)
	restartMu sync.Mutex
	restart   []string // settings changed on reload that need a restart
}

// Run runs the daemon until ctx is cancelled (SIGTERM/SIGINT), then stops
// cleanly. It returns an error only for a failed start or a failed service.
func Run(ctx context.Context, opts Options) error {
	if opts.Stderr == nil {
		opts.Stderr = os.Stderr
	}
	cfg, err := loadConfig(opts)
	if err != nil {
		return err
	}
	d := newDaemon(opts, cfg)
	if err := d.start(ctx); err != nil {
		d.notify.send("STATUS=start failed: " + oneLine(err.Error()))
		return err
	}
	defer d.db.Close()
	return d.serve(ctx)
}

func newDaemon(opts Options, cfg *config.Config) *Daemon {
	d := &Daemon{opts: opts, level: new(slog.LevelVar), started: time.Now(), reloads: make(chan reloadReq)}
	d.log = newLogger(opts.Stderr, d.level)
	d.setLevel(cfg.Log.Level)
	d.cfg.Store(cfg)
	d.notify = newNotifier(d.log)
	return d
}

// start opens the state db and loads the directory.
func (d *Daemon) start(ctx context.Context) error {
	cfg := d.cfg.Load()
	stateDir := cfg.StateDir
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	db, err := store.Open(filepath.Join(stateDir, "state.db"), store.Options{})
	if err != nil {
		return err
	}
	d.db = db
	d.dir = newDirState(d.log, d.db, d.notify)
	d.dir.statusFn = d.statusLine
	d.dir.onSwap = append(d.dir.onSwap, d.checkSyncAffected)
	src, err := newSource(cfg, d.log)
	if err != nil {
		db.Close()
		return err
	}
	d.source = src
	d.presence, err = presence.New(presence.Options{Store: db, Log: d.log, Directory: d.dir.snapshot})
	if err != nil {
		db.Close()
		return err
	}
	if d.sip, err = d.newSIP(cfg); err != nil {
		db.Close()
		return err
	}

	d.loadInitial(ctx)
	return nil
}

// loadInitial uses the source if it is valid, else the last good document
// from the store, else an empty directory, so the daemon always comes up.
func (d *Daemon) loadInitial(ctx context.Context) {
	fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, err := d.source.Fetch(fctx)
	if err == nil {
		err = d.dir.apply(ctx, raw, d.source.Origin())
	} else {
		d.dir.fail(err)
	}
	if err == nil {
		return
	}
	d.log.Error("directory source unusable at start", "source", d.source.Origin(), "err", err)
	lg, ok, lerr := d.db.LastGood()
	if lerr != nil {
		d.log.Error("read last good directory", "err", lerr)
	}
	if ok {
		if perr := d.dir.useStored(lg); perr == nil {
			d.log.Warn("running on the last good directory from the state db",
				"version", lg.Version, "saved", lg.Saved, "origin", lg.Origin)
			return
		}
	}
	d.log.Error("no usable directory: running with an empty one until the source becomes valid")
}

func (d *Daemon) serve(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ctl, err := d.listenControl()
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	// Status and reload answer during the start (reloads are safe: CheckSync
	// waits for the SIP stack). The directory source and the watchdog start
	// once the services run: changes are then applied to a running stack,
	// and the watchdog's probe has a stack to probe.
	g.Go(func() error { return d.serveControl(gctx, ctl) })
	g.Go(func() error { return d.reloadLoop(gctx) })
	if err := d.startServices(gctx, g); err != nil {
		cancel()
		_ = g.Wait()
		return err
	}
	g.Go(func() error { return d.runSource(gctx) })
	g.Go(func() error { return d.notify.watchdog(gctx, d.alive) })

	d.ready.Store(true)
	d.notify.send("READY=1\nSTATUS=" + d.statusLine(d.dir.status()))
	d.log.Info("deskgated ready", "version", d.opts.Version, "socket", ctl.Addr().String(),
		"directory_version", d.dir.snapshot().Version(), "directory_source", d.dir.status().Source)

	<-gctx.Done()
	d.ready.Store(false)
	d.notify.send("STOPPING=1\nSTATUS=stopping")
	d.log.Info("stopping")
	cancel()
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	case <-time.After(stopGrace):
		d.log.Warn("services did not stop in time; exiting anyway", "grace", stopGrace)
	}
	return nil
}

// alive is the watchdog's probe: the SIP stack answers its own OPTIONS and
// the store commits an empty write.
func (d *Daemon) alive(ctx context.Context) error {
	if err := d.sip.Probe(ctx); err != nil {
		return err
	}
	return d.db.Ping()
}

// runSource follows the directory source until ctx ends.
func (d *Daemon) runSource(ctx context.Context) error {
	return d.source.Run(ctx, d.dir.apply, d.dir.fail)
}

func newSource(cfg *config.Config, log *slog.Logger) (dirsync.Source, error) {
	if cfg.Directory.API.URL != "" {
		src, err := dirsync.NewAPISource(dirsync.APIOptions{
			URL:          cfg.Directory.API.URL,
			TokenFile:    cfg.Directory.API.TokenFile,
			PollInterval: cfg.Directory.API.PollInterval.D(),
			Log:          log, // dirsync names its own component
		})
		if err != nil {
			return nil, fmt.Errorf("directory api: %w", err)
		}
		return src, nil
	}
	return dirsync.NewFileSource(dirsync.FileOptions{
		Path: cfg.Directory.File,
		Log:  log, // dirsync names its own component
	}), nil
}

// snapshot is a helper for handlers: the current directory.
func (d *Daemon) snapshot() *directory.Snapshot { return d.dir.snapshot() }
