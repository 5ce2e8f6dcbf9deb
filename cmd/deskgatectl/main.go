// Command deskgatectl is the admin CLI of deskgated: it talks to the
// daemon's control socket and links nothing but the control API client.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"deskgate/daemon/controlapi"
)

const defaultSocket = "/run/deskgate/control.sock"

// env is what every subcommand gets.
type env struct {
	ctx    context.Context
	cli    *controlapi.Client
	json   bool
	flags  map[string]string // --name value / --name=value / --name (boolean: "true")
	args   []string          // positional arguments after the command
	stdout io.Writer
}

type command struct {
	usage string
	run   func(e *env) error
}

var commands = map[string]command{
	"status":        {"status", runStatus},
	"registrations": {"registrations", runRegistrations},
	"calls":         {"calls", runCalls},
	"phones":        {"phones", runPhones},
	"dnd":           {"dnd USER [on|off]", runDND},
	"away":          {"away USER [on|off] [--department ID]", runAway},
	"history":       {"history USER", runHistory},
	"credentials":   {"credentials USER [--rotate]", runCredentials},
	"blocks":        {"blocks", runBlocks},
	"unblock":       {"unblock SOURCE|USER", runUnblock},
	"rearm":         {"rearm MAC [--address IP]", runRearm},
	"reload":        {"reload", runReload},
	"check":         {"check FILE", runCheck},
}

// valueFlags take a value; every other flag is boolean.
var valueFlags = map[string]bool{"socket": true, "department": true, "address": true}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(argv []string, stdout, stderr io.Writer) int {
	flags, args, err := splitArgs(argv)
	if err != nil {
		fmt.Fprintln(stderr, "deskgatectl:", err)
		return 2
	}
	if len(args) == 0 || flags["help"] != "" || flags["h"] != "" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "deskgatectl: unknown command %q\n", args[0])
		usage(stderr)
		return 2
	}
	sock := flags["socket"]
	if sock == "" {
		sock = os.Getenv("DESKGATE_SOCKET")
	}
	if sock == "" {
		sock = defaultSocket
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	e := &env{ctx: ctx, cli: controlapi.NewClient(sock), json: flags["json"] != "", flags: flags,
		args: args[1:], stdout: stdout}
	if err := cmd.run(e); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "deskgatectl: %v\nusage: deskgatectl %s\n", err, cmd.usage)
			return 2
		}
		fmt.Fprintln(stderr, "deskgatectl:", oneLine(err.Error()))
		return 1
	}
	return 0
}

// splitArgs separates --flags (anywhere on the line) from positional words.
func splitArgs(argv []string) (map[string]string, []string, error) {
	flags := map[string]string{}
	var args []string
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		if a == "--" {
			args = append(args, argv[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			args = append(args, a)
			continue
		}
		name, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if valueFlags[name] && !hasVal {
			if i+1 >= len(argv) {
				return nil, nil, fmt.Errorf("--%s needs a value", name)
			}
			i++
			val = argv[i]
		} else if !hasVal {
			val = "true"
		}
		flags[name] = val
	}
	return flags, args, nil
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: deskgatectl [--socket PATH] [--json] COMMAND [ARGS]\ncommands:")
	for _, name := range []string{"status", "registrations", "calls", "phones", "dnd", "away", "history", "credentials", "rearm", "blocks", "unblock", "reload", "check"} {
		fmt.Fprintf(w, "  %s\n", commands[name].usage)
	}
}

type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func wantArgs(e *env, n int) error {
	if len(e.args) < n {
		return usageError{"missing argument"}
	}
	if len(e.args) > n {
		return usageError{fmt.Sprintf("unexpected argument %q", e.args[n])}
	}
	return nil
}

// printJSON writes v indented, for --json.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", "; ")), " ")
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}
