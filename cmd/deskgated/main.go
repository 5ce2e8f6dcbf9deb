// Command deskgated is the deskgate appliance daemon: SIP registrar and
// forking proxy, provisioning server and directory sync for desk phones.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"deskgate/daemon"
	"deskgate/daemon/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
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

// gcPercent is the collector's target heap growth when GOGC is not set.
// Go's 100 lets the heap reach twice what is live; at 75 the box holds
// about a tenth less (25-way forks at 50 calls/s: PSS 43–46 → 38–40 MB;
// REGISTER at 2000/s: 46 → 42 MB) for a few percent more collector CPU
// (docs/performance.md).
const gcPercent = 75

// tuneGC applies gcPercent unless the operator set GOGC (which wins, as
// GOMEMLIMIT from the unit does).
func tuneGC() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(gcPercent)
	}
}
