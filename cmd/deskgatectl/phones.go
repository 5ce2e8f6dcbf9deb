package main

import (
	"fmt"
	"net/url"
	"text/tabwriter"

	"deskgate/daemon/controlapi"
)

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "-"
}

// runPhones lists configured phones and phones seen on the LAN; a phone seen
// but not configured is one IT may want to add to the directory.
func runPhones(e *env) error {
	if err := wantArgs(e, 0); err != nil {
		return err
	}
	var phones []controlapi.Phone
	if err := e.cli.Get(e.ctx, controlapi.PathPhones, &phones); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, phones)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MAC\tUSER\tVENDOR\tMODEL\tCONFIGURED\tDISCOVERED\tREGISTERED\tADDRESS\tSECRETS")
	var alerts []controlapi.Phone
	for _, p := range phones {
		user := p.User
		if !p.Configured {
			user = "(not in directory)"
		}
		secrets := p.Secrets
		if secrets == "" {
			secrets = "-"
		}
		if p.SecretsAlert != "" {
			secrets += " (alert)"
			alerts = append(alerts, p)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.MAC, user, p.Vendor, p.Model,
			yesNo(p.Configured), yesNo(p.Discovered), yesNo(p.Registered), p.Address, secrets)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// Keys the phone's model has no room for, so IT sees what is missing.
	for _, p := range phones {
		for _, w := range p.Warnings {
			fmt.Fprintf(e.stdout, "%s: %s\n", p.MAC, w)
		}
	}
	for _, p := range alerts {
		fmt.Fprintf(e.stdout, "alert %s: %s\n", p.MAC, p.SecretsAlert)
	}
	if len(alerts) > 0 {
		fmt.Fprintln(e.stdout, rearmHint)
	}
	return nil
}

// rearmHint tells IT what to do about a provisioning secrets alert.
const rearmHint = "check each phone's address on its screen; if the secrets went to an address that is not the phone's,\n" +
	"rotate its user's password (deskgatectl credentials USER --rotate); then run deskgatectl rearm MAC [--address IP]"

// runRearm re-arms a phone's provisioning secrets: the next fetch of its
// file binds them to its address, or --address binds them at once.
func runRearm(e *env) error {
	if err := wantArgs(e, 1); err != nil {
		return err
	}
	var p controlapi.Phone
	err := e.cli.Post(e.ctx, controlapi.PathRearm+url.PathEscape(e.args[0]),
		controlapi.Rearm{Address: e.flags["address"]}, &p)
	if err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, p)
	}
	if p.Secrets == "armed" {
		fmt.Fprintf(e.stdout, "%s re-armed: its next fetch gets the file with its password and binds it to that address\n", p.MAC)
		return nil
	}
	fmt.Fprintf(e.stdout, "%s: secrets %s\n", p.MAC, p.Secrets)
	return nil
}
