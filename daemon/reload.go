package daemon

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	sd "github.com/coreos/go-systemd/v22/daemon"

	"deskgate/daemon/config"
)

// reloadReq asks the reload loop for a reload; done gets its result.
type reloadReq struct{ done chan error }

// requestReload runs one reload and waits for it (deskgatectl reload is
// synchronous, unlike a bare SIGHUP).
func (d *Daemon) requestReload(ctx context.Context) error {
	req := reloadReq{done: make(chan error, 1)}
	select {
	case d.reloads <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// reloadLoop serialises reloads from SIGHUP and the control API.
func (d *Daemon) reloadLoop(ctx context.Context) error {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			_ = d.reload(ctx, "SIGHUP")
		case req := <-d.reloads:
			req.done <- d.reload(ctx, "control")
		}
	}
}

// reload re-reads deskgate.yaml and the directory. READY=1 and STATUS= are
// sent whatever happens, so systemd never stays in "reloading".
func (d *Daemon) reload(ctx context.Context, why string) (err error) {
	d.notify.send(sd.SdNotifyReloading + "\n" + sd.SdNotifyMonotonicUsec() + "STATUS=reloading")
	d.log.Info("reload", "trigger", why)
	defer func() {
		if err != nil {
			d.log.Error("reload incomplete", "err", err)
		}
		d.notify.send("READY=1\nSTATUS=" + d.statusLine(d.dir.status()))
	}()
	cfg, cerr := loadConfig(d.opts)
	if cerr != nil {
		err = errorf(http.StatusConflict, "configuration not reloaded, keeping the running one: %v", cerr)
	} else {
		d.applyConfig(cfg)
	}
	fctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	raw, ferr := d.source.Fetch(fctx)
	if ferr != nil {
		d.dir.fail(ferr)
		return joinErr(err, errorf(http.StatusBadGateway, "directory not reloaded: %v", ferr))
	}
	if aerr := d.dir.apply(ctx, raw, d.source.Origin()); aerr != nil {
		return joinErr(err, errorf(http.StatusUnprocessableEntity, "directory not reloaded: %s", oneLine(aerr.Error())))
	}
	return err
}

// applyConfig takes the settings that can change live and records those
// that need a restart, so nothing is ignored silently.
func (d *Daemon) applyConfig(cfg *config.Config) {
	old := d.cfg.Load()
	var restart []string
	same := func(name string, a, b any) {
		ja, _ := json.Marshal(a)
		jb, _ := json.Marshal(b)
		if string(ja) != string(jb) {
			restart = append(restart, name)
		}
	}
	same("state_dir", old.StateDir, cfg.StateDir)
	same("sip", old.SIP, cfg.SIP)
	same("provisioning", old.Provisioning, cfg.Provisioning)
	same("discovery", old.Discovery, cfg.Discovery)
	same("directory", old.Directory, cfg.Directory)
	same("trunk", old.Trunk, cfg.Trunk)
	same("control", old.Control, cfg.Control)
	same("domain", old.Domain, cfg.Domain)
	same("site", old.Site, cfg.Site) // in the mDNS name and TXT records, set at start
	// Live: feature codes (routing reads them per call) and the log level.
	// Keep the running values of the rest, so what runs and what status
	// says stay in step.
	next := *old
	next.FeatureCodes, next.Log = cfg.FeatureCodes, cfg.Log
	d.cfg.Store(&next)
	d.setLevel(cfg.Log.Level)
	d.restartMu.Lock()
	d.restart = restart
	d.restartMu.Unlock()
	if len(restart) > 0 {
		d.log.Warn("configuration changes need a restart to take effect", "settings", restart)
	}
}

func (d *Daemon) restartRequired() []string {
	d.restartMu.Lock()
	defer d.restartMu.Unlock()
	return slices.Clone(d.restart)
}

func joinErr(a, b error) error {
	if a == nil {
		return b
	}
	return fmt.Errorf("%w; %w", a, b)
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 1<<20))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}
