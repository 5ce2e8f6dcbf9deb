package daemon

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"deskgate/daemon/config"
	"deskgate/routing"
	"deskgate/routing/presence"
)

// newSIP builds the registrar and proxy from the configuration.
func (d *Daemon) newSIP(cfg *config.Config) (*routing.Server, error) {
	srv, err := routing.New(routing.Options{
		Presence:           d.presence,
		Domain:             cfg.Domain,
		Listen:             cfg.SIP.Listen,
		Advertise:          cfg.SIP.Advertise,
		RegisterMinExpires: cfg.SIP.RegisterMinExpires,
		RegisterMaxExpires: cfg.SIP.RegisterMaxExpires,
		AuthAlgorithms:     cfg.SIP.AuthAlgorithms,
		Trunk: routing.TrunkOptions{
			Address:   cfg.Trunk.Address,
			Transport: cfg.Trunk.Transport,
			Trusted:   cfg.TrustedPrefixes(),
			Username:  cfg.Trunk.Username,
			Password:  cfg.Trunk.Password,
		},
		Directory:    d.dir.snapshot,
		Store:        d.db,
		Log:          d.log, // routing names its own component
		FeatureCodes: d.featureCodes,
	})
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	return srv, nil
}

// featureCodes are the codes of the running configuration; a reload that
// changes them applies to the next call.
func (d *Daemon) featureCodes() presence.Codes {
	fc := d.cfg.Load().FeatureCodes
	return presence.Codes{DNDOn: fc.DNDOn, DNDOff: fc.DNDOff, AwayOn: fc.AwayOn, AwayOff: fc.AwayOff}
}

// startServices starts the network services one by one, each bound before
// the next, so READY=1 means everything listens.
func (d *Daemon) startServices(ctx context.Context, g *errgroup.Group) error {
	if err := d.startService(ctx, g, "sip", d.sip.Run, true); err != nil {
		return err
	}
	// Built after SIP is bound: phones are told the real SIP port.
	prov, err := d.newProvisioning(d.cfg.Load())
	if err != nil {
		return err
	}
	d.prov = prov
	if d.prov != nil {
		if err := d.startService(ctx, g, "provisioning", d.prov.Run, true); err != nil {
			return err
		}
	}
	d.startDiscovery(ctx, g)
	return nil
}

// startDiscovery runs mDNS and SIP PnP. They only help phones find us, so a
// failure (no multicast interface, a missing named interface) is reported
// in status and the log, and the appliance runs on without them.
func (d *Daemon) startDiscovery(ctx context.Context, g *errgroup.Group) {
	svc, err := d.newDiscovery(d.cfg.Load())
	if err == nil && svc != nil {
		err = d.startService(ctx, g, "discovery", svc.Run, false)
	}
	if err != nil {
		d.log.Error("discovery not running; phones can still be provisioned by DHCP option 66 or by hand", "err", err)
		d.warnMu.Lock()
		d.warnings = append(d.warnings, err.Error())
		d.warnMu.Unlock()
	}
}

// startService runs one service in the group and waits until it reports
// ready, or fails: READY=1 goes out only once every listener is bound.
// A fatal service's error stops the daemon; another's is only logged.
func (d *Daemon) startService(ctx context.Context, g *errgroup.Group, name string,
	run func(ctx context.Context, ready func()) error, fatal bool) error {
	ready := make(chan struct{})
	failed := make(chan error, 1)
	g.Go(func() error {
		err := run(ctx, func() { close(ready) })
		if err == nil {
			return nil
		}
		failed <- err
		if fatal {
			return fmt.Errorf("%s: %w", name, err)
		}
		d.log.Error("service stopped", "service", name, "err", err)
		return nil
	})
	select {
	case <-ready:
		return nil
	case err := <-failed:
		return fmt.Errorf("start %s: %w", name, err)
	case <-ctx.Done():
		return fmt.Errorf("start %s: %w", name, ctx.Err())
	}
}
