package main

import (
	"fmt"
	"strings"

	"deskgate/daemon/controlapi"
)

func runDND(e *env) error { return presence(e, controlapi.PathDND) }

func runAway(e *env) error { return presence(e, controlapi.PathAway) }

// presence shows (USER) or sets (USER on|off) DND or away.
func presence(e *env, prefix string) error {
	if len(e.args) < 1 || len(e.args) > 2 {
		return usageError{"want USER and optionally on or off"}
	}
	path := controlapi.UserPath(prefix, e.args[0])
	var p controlapi.Presence
	if len(e.args) == 1 {
		if e.flags["department"] != "" {
			return usageError{"--department goes with on or off"}
		}
		if err := e.cli.Get(e.ctx, path, &p); err != nil {
			return err
		}
	} else {
		var on bool
		switch e.args[1] {
		case "on":
			on = true
		case "off":
		default:
			return usageError{fmt.Sprintf("%q: want on or off", e.args[1])}
		}
		if prefix == controlapi.PathDND && e.flags["department"] != "" {
			return usageError{"--department is for away"}
		}
		chg := controlapi.PresenceChange{On: on, Department: e.flags["department"]}
		if err := e.cli.Post(e.ctx, path, chg, &p); err != nil {
			return err
		}
	}
	if e.json {
		return printJSON(e.stdout, p)
	}
	away := "no"
	if len(p.Away) > 0 {
		away = strings.Join(p.Away, ", ")
		if away == "*" {
			away = "all departments"
		}
	}
	dnd := "off"
	if p.DND {
		dnd = "on"
	}
	fmt.Fprintf(e.stdout, "%s: DND %s, away: %s\n", p.User, dnd, away)
	return nil
}
