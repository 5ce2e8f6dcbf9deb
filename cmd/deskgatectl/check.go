package main

import (
	"fmt"
	"os"

	"deskgate/daemon/controlapi"
)

// runCheck validates an office directory file with the daemon's own parser
// and prints every problem, one a line; it fails when there is any.
func runCheck(e *env) error {
	if err := wantArgs(e, 1); err != nil {
		return err
	}
	raw, err := os.ReadFile(e.args[0])
	if err != nil {
		return err
	}
	var res controlapi.CheckResult
	if err := e.cli.Post(e.ctx, controlapi.PathCheck, raw, &res); err != nil {
		return err
	}
	if e.json {
		if err := printJSON(e.stdout, res); err != nil {
			return err
		}
	} else {
		for _, p := range res.Problems {
			fmt.Fprintf(e.stdout, "%s: %s\n", e.args[0], p)
		}
		if res.OK {
			fmt.Fprintf(e.stdout, "%s: ok (version %q)\n", e.args[0], res.Version)
		}
	}
	if !res.OK {
		return fmt.Errorf("%s: %d problem(s)", e.args[0], len(res.Problems))
	}
	return nil
}
