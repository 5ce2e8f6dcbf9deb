package main

import (
	"fmt"
	"text/tabwriter"

	"deskgate/daemon/controlapi"
)

func runBlocks(e *env) error {
	if err := wantArgs(e, 0); err != nil {
		return err
	}
	var bs []controlapi.Block
	if err := e.cli.Get(e.ctx, controlapi.PathBlocks, &bs); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, bs)
	}
	if len(bs) == 0 {
		fmt.Fprintln(e.stdout, "no blocks")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tUSER\tFAILURES\tUNTIL")
	for _, b := range bs {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", b.Source, blockUser(b), b.Failures, fmtTime(b.Until))
	}
	return tw.Flush()
}

// blockUser names who a block refuses: a user (and the username they
// authenticate with), or everyone from the source.
func blockUser(b controlapi.Block) string {
	switch {
	case b.User == "":
		return "(all users)"
	case b.Username != "" && b.Username != b.User:
		return b.User + " (" + b.Username + ")"
	}
	return b.User
}

func runUnblock(e *env) error {
	if err := wantArgs(e, 1); err != nil {
		return err
	}
	var u controlapi.Unblocked
	if err := e.cli.Post(e.ctx, controlapi.UserPath(controlapi.PathUnblock, e.args[0]), nil, &u); err != nil {
		return err
	}
	if e.json {
		return printJSON(e.stdout, u)
	}
	fmt.Fprintf(e.stdout, "unblocked %s: %d block(s) lifted\n", u.Target, u.Lifted)
	return nil
}
