package daemon

import (
	"context"
	"fmt"

	"golang.org/x/sync/errgroup"

	"deskgate/daemon/config"
	"deskgate/routing"
)

// newSIP builds the registrar and proxy from the configuration.
func (d *Daemon) newSIP(cfg *config.Config) (*routing.Server, error) {
	srv, err := routing.New(routing.Options{
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
		Directory: d.dir.snapshot,
		Store:     d.db,
		Log:       d.log.With("component", "sip"),
	})
	if err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	return srv, nil
}

// startServices starts the network services one by one, each bound before
// the next, so READY=1 means everything listens.
func (d *Daemon) startServices(ctx context.Context, g *errgroup.Group) error {
	if err := startService(ctx, g, "sip", d.sip.Run); err != nil {
		return err
	}
	// Built after SIP is bound: phones are told the real SIP port.
	prov, err := d.newProvisioning(d.cfg.Load())
	if err != nil {
		return err
	}
	d.prov = prov
	if d.prov != nil {
		if err := startService(ctx, g, "provisioning", d.prov.Run); err != nil {
			return err
		}
	}
	return nil
}

// startService runs one service in the group and waits until it reports
// ready, or fails: READY=1 goes out only once every listener is bound.
func startService(ctx context.Context, g *errgroup.Group, name string,
	run func(ctx context.Context, ready func()) error) error {
	ready := make(chan struct{})
	failed := make(chan error, 1)
	g.Go(func() error {
		err := run(ctx, func() { close(ready) })
		if err != nil {
			failed <- err
			return fmt.Errorf("%s: %w", name, err)
		}
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
