package daemon

import (
	"errors"
	"fmt"
	"io"
	"os"

	"deskgate/daemon/config"
	"deskgate/daemon/directory"
)

// Check validates deskgate.yaml and the office directory file it names
// (dirOverride, when set, replaces directory.file). It prints every problem,
// one a line naming the offending entries, and reports whether all is clean.
func Check(w io.Writer, configPath, dirOverride string) bool {
	cfg, err := LoadConfig(configPath)
	if err != nil {
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				fmt.Fprintf(w, "%s: %s\n", configPath, p)
			}
		} else {
			fmt.Fprintln(w, err)
		}
		return false
	}
	path := cfg.Directory.File
	if dirOverride != "" {
		path = dirOverride
	} else if cfg.Directory.API.URL != "" {
		fmt.Fprintf(w, "%s: ok; the directory comes from %s and is checked when fetched\n",
			configPath, cfg.Directory.API.URL)
		return true
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintf(w, "%s: %v\n", path, err)
		return false
	}
	snap, err := directory.Parse(raw)
	if err != nil {
		for _, p := range problemLines(err) {
			fmt.Fprintf(w, "%s: %s\n", path, p)
		}
		return false
	}
	fmt.Fprintf(w, "%s: ok\n%s: ok, version %q: %d users, %d departments, %d phones, %d pairings\n",
		configPath, path, snap.Version(), len(snap.Users()), len(snap.Departments()),
		len(snap.Phones()), len(snap.Pairings()))
	return true
}
