package main

import (
	"fmt"
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
	fmt.Fprintln(tw, "MAC\tUSER\tVENDOR\tMODEL\tCONFIGURED\tDISCOVERED\tREGISTERED\tADDRESS")
	for _, p := range phones {
		user := p.User
		if !p.Configured {
			user = "(not in directory)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.MAC, user, p.Vendor, p.Model,
			yesNo(p.Configured), yesNo(p.Discovered), yesNo(p.Registered), p.Address)
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
	return nil
}
