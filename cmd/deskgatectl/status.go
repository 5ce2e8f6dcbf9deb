package main

import (
	"fmt"

	"deskgate/daemon/controlapi"
)

// maxStatusBlocks is how many blocks status lists before pointing at
// deskgatectl blocks.
const maxStatusBlocks = 5

func runStatus(e *env) error {
	if err := wantArgs(e, 0); err != nil {
		return err
	}
	var s controlapi.Status
	if err := e.cli.Get(e.ctx, controlapi.PathStatus, &s); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, s)
	}
	ready := "ready"
	if !s.Ready {
		ready = "starting"
	}
	v := s.Directory.Version
	if v == "" {
		v = "(unversioned)"
	}
	fmt.Fprintf(e.stdout, "deskgated %s: %s, site %s, domain %s, up since %s\n",
		s.Version, ready, s.Site, s.Domain, fmtTime(s.Started))
	fmt.Fprintf(e.stdout, "directory: version %s from %s, loaded %s: %d users, %d departments, %d phones\n",
		v, s.Directory.Source, fmtTime(s.Directory.Loaded), s.Users, s.Departments, s.Phones)
	if s.Directory.Error != "" {
		fmt.Fprintf(e.stdout, "directory error (%s): %s\n", fmtTime(s.Directory.ErrorAt), s.Directory.Error)
	}
	fmt.Fprintf(e.stdout, "registrations: %d\n", s.Registrations)
	for i, b := range s.Blocks {
		if i == maxStatusBlocks {
			fmt.Fprintf(e.stdout, "... and %d more blocks (deskgatectl blocks)\n", len(s.Blocks)-i)
			break
		}
		fmt.Fprintf(e.stdout, "blocked after failed authentication: %s %s (%d failures) until %s\n",
			b.Source, blockUser(b), b.Failures, fmtTime(b.Until))
	}
	if s.OverBudget+s.OverCap > 0 {
		fmt.Fprintf(e.stdout, "SIP requests refused under load: %d over a source's budget, %d at the transaction cap (%d transactions now)\n",
			s.OverBudget, s.OverCap, s.Transactions)
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(e.stdout, "warning: %s\n", w)
	}
	for _, a := range s.ProvisioningAlerts {
		fmt.Fprintf(e.stdout, "provisioning alert: %s\n", a)
	}
	if len(s.ProvisioningAlerts) > 0 {
		fmt.Fprintln(e.stdout, rearmHint)
	}
	if len(s.Restart) > 0 {
		fmt.Fprintf(e.stdout, "restart required for: %v\n", s.Restart)
	}
	return nil
}

func runReload(e *env) error {
	if err := wantArgs(e, 0); err != nil {
		return err
	}
	var s controlapi.Status
	if err := e.cli.Post(e.ctx, controlapi.PathReload, nil, &s); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, s)
	}
	fmt.Fprintf(e.stdout, "reloaded: directory version %s from %s\n", s.Directory.Version, s.Directory.Source)
	return nil
}
