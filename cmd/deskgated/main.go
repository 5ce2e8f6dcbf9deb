// Command deskgated is the deskgate appliance daemon: SIP registrar and
// forking proxy, provisioning server and directory sync for desk phones.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"

	"deskgate/daemon"
	"deskgate/daemon/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	// First, before the heap grows: a sample taken before this line is one
	// stack in the profile's table, not the table's pages.
	tuneProfiling()
	cfgPath := flag.String("config", config.DefaultPath, "appliance configuration `file`")
	check := flag.Bool("check", false, "validate the configuration and the office directory, print every problem, exit 1 if any")
	dirFile := flag.String("directory", "", "office directory `file` to use instead of directory.file (mostly with -check)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if flag.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "deskgated: unexpected argument %q\n", flag.Arg(0))
		os.Exit(2)
	}
	switch {
	case *showVersion:
		fmt.Println("deskgated", version)
	case *check:
		if !daemon.Check(os.Stdout, *cfgPath, *dirFile) {
			os.Exit(1)
		}
	default:
		tuneGC()
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		err := daemon.Run(ctx, daemon.Options{ConfigPath: *cfgPath, DirectoryFile: *dirFile, Version: version})
		if err != nil {
			fmt.Fprintln(os.Stderr, "deskgated:", err)
			os.Exit(1)
		}
	}
}

// gcPercent is the collector's target heap growth when GOGC is not set:
// Go's own 100, set here so it is one decision in one place. It was 75
// while answered transactions held their messages and the heap was large
// (PSS 43–46 → 38–40 MB under 25-way forks); with that gone, 100 costs
// about 2 MB of PSS (fork 34 → 36.5 MB, REGISTER storm 26.4 → 28.6 MB) and
// saves 5–9 % of CPU (docs/decisions.md).
const gcPercent = 100

// tuneProfiling turns Go's heap profile sampling off unless the operator
// set it (GODEBUG=memprofilerate=N). Sampling, on by default in Go, keeps a
// hash table of sampled stacks the runtime maps at 1.4 MB and touches at
// random, so a daemon that allocated a few hundred MB under load carries
// about a megabyte of it for good. The control socket switches sampling on
// when a heap profile is wanted (POST /debug/pprof/sampling?heap=524288).
func tuneProfiling() {
	if !strings.Contains(os.Getenv("GODEBUG"), "memprofilerate=") {
		runtime.MemProfileRate = 0
	}
}

// tuneGC applies gcPercent unless the operator set GOGC (which wins, as
// GOMEMLIMIT from the unit does).
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
