package main

import (
	"fmt"
	"text/tabwriter"

	"deskgate/daemon/controlapi"
)

func runRegistrations(e *env) error {
	if err := wantArgs(e, 0); err != nil {
		return err
	}
	var regs []controlapi.Registration
	if err := e.cli.Get(e.ctx, controlapi.PathRegistrations, &regs); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, regs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tCONTACT\tEXPIRES\tSOURCE\tUSER AGENT")
	for _, r := range regs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s/%s\t%s\n", r.User, r.Contact, fmtTime(r.Expires), r.Transport, r.Source, r.UserAgent)
	}
	return tw.Flush()
}

func runCalls(e *env) error {
	if err := wantArgs(e, 0); err != nil {
		return err
	}
	var calls []controlapi.Call
	if err := e.cli.Get(e.ctx, controlapi.PathCalls, &calls); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, calls)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CALL-ID\tFROM\tTO\tSTATE\tSTARTED")
	for _, c := range calls {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.CallID, c.From, c.To, c.State, fmtTime(c.Started))
	}
	return tw.Flush()
}

func runHistory(e *env) error {
	if err := wantArgs(e, 1); err != nil {
		return err
	}
	var hs []controlapi.HistoryEntry
	if err := e.cli.Get(e.ctx, controlapi.UserPath(controlapi.PathHistory, e.args[0]), &hs); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, hs)
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tDIRECTION\tPEER\tRESULT\tON BEHALF OF")
	for _, h := range hs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", fmtTime(h.Time), h.Direction, h.Peer, h.Result, h.OnBehalfOf)
	}
	return tw.Flush()
}
