package daemon

import (
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ourImports lists, per package (longest prefix wins), which of deskgate's
// own packages it may import; an entry ending in "/" allows a whole subtree.
// This is design.md's one-way import graph.
var ourImports = map[string][]string{
	"deskgate/cmd/deskgated":                  {"deskgate/daemon", "deskgate/daemon/config"},
	"deskgate/cmd/deskgatectl":                {"deskgate/daemon/controlapi"},
	"deskgate/daemon":                         {"deskgate/daemon/", "deskgate/routing", "deskgate/routing/", "deskgate/provisioning", "deskgate/provisioning/"},
	"deskgate/daemon/config":                  {},
	"deskgate/daemon/controlapi":              {},
	"deskgate/daemon/directory":               {},
	"deskgate/daemon/directory/directorytest": {"deskgate/daemon/directory"},
	"deskgate/daemon/store":                   {},
	"deskgate/daemon/dirsync":                 {},
	"deskgate/routing":                        {"deskgate/routing/", "deskgate/daemon/directory", "deskgate/daemon/store"},
	"deskgate/routing/digest":                 {"deskgate/routing/internal/reply"}, // digest auth, nonces, throttle: only the response builder
	// Builds a response to a received request from sipgo's types alone.
	"deskgate/routing/internal/reply": {},
	"deskgate/routing/ringplan":       {"deskgate/daemon/directory"},
	"deskgate/routing/presence":       {"deskgate/daemon/directory", "deskgate/daemon/store"},
	"deskgate/routing/sca":            {},
	// The subscription table and NOTIFY state machine: records only, behind
	// its Transport and Store interfaces, so it is tested without SIP.
	"deskgate/routing/notifier": {"deskgate/daemon/store", "deskgate/routing/events"},
	// The bindings table and REGISTER parsing: routing asks, it never calls back.
	"deskgate/routing/registrar": {"deskgate/daemon/store", "deskgate/routing/internal/reply"},
	"deskgate/provisioning":      {"deskgate/provisioning/", "deskgate/daemon/directory", "deskgate/daemon/store"},
}

// ruleReason says why a package's rule is as narrow as it is; a failure
// names it so whoever breaks the rule sees what it protects.
var ruleReason = map[string]string{
	"deskgate/routing/notifier": "the subscription state machine sees records and its Transport/Store interfaces only, " +
		"so its ordering and coalescing rules are tested without SIP; routing implements the Transport",
	"deskgate/routing/registrar": "the bindings table owns its lock and its store writes, REGISTER parsing is pure; " +
		"routing asks it and nothing in it may call back into routing",
	"deskgate/routing/digest": "digest auth, nonces and throttling take a lookup function and know nothing of the directory",
	"deskgate/routing/sca":    "appearances are pure state; routing does the SIP",
}

func rulesFor(pkg string) ([]string, bool) {
	best := ""
	for k := range ourImports {
		if (pkg == k || strings.HasPrefix(pkg, k+"/")) && len(k) > len(best) {
			best = k
		}
	}
	r, ok := ourImports[best]
	return r, ok
}

func allowed(rules []string, imp string) bool {
	for _, r := range rules {
		if imp == r || (strings.HasSuffix(r, "/") && strings.HasPrefix(imp, r)) {
			return true
		}
	}
	return false
}

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestImportGraph(t *testing.T) {
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "deskgate/...") {
		f := strings.Fields(line)
		pkg := f[0]
		rules, ok := rulesFor(pkg)
		if !ok {
			t.Errorf("%s: no import rule (add it to ourImports)", pkg)
			continue
		}
		for _, imp := range f[1:] {
			if imp != "deskgate" && !strings.HasPrefix(imp, "deskgate/") {
				continue
			}
			if !allowed(rules, imp) {
				why := "against the one-way import graph (design.md)"
				if r, ok := ruleReason[pkg]; ok {
					why = r
				}
				t.Errorf("%s imports %s: %s", pkg, imp, why)
			}
		}
	}
}

// The CLI links no engine: no SIP, database, watcher or mDNS code.
func TestCtlLinksNoEngine(t *testing.T) {
	for _, dep := range goList(t, "-deps", "deskgate/cmd/deskgatectl") {
		for _, bad := range []string{"github.com/emiago/sipgo", "go.etcd.io/bbolt", "github.com/fsnotify", "github.com/hashicorp/mdns"} {
			if strings.HasPrefix(dep, bad) {
				t.Errorf("deskgatectl links %s", dep)
			}
		}
	}
}

// Packages whose decisions are unit-tested without a SIP stack link none:
// they reach the network only through an interface routing implements.
func TestNoSIPBelowRouting(t *testing.T) {
	for pkg, why := range map[string]string{
		"deskgate/routing/notifier": "subscriptions are sent through notifier.Transport",
		"deskgate/routing/sca":      "appearances are pure state; routing sends the NOTIFYs",
	} {
		for _, dep := range goList(t, "-deps", pkg) {
			if strings.HasPrefix(dep, "github.com/emiago/sipgo") {
				t.Errorf("%s links %s (%s)", pkg, dep, why)
			}
		}
	}
}

// Every package says what it owns in exactly one package comment.
func TestPackageDocs(t *testing.T) {
	for _, line := range goList(t, "-f", "{{.ImportPath}} {{.Dir}} {{.Name}}", "deskgate/...") {
		f := strings.Fields(line)
		pkg, dir := f[0], f[1]
		fset := token.NewFileSet()
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		docs := 0
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			af, err := parser.ParseFile(fset, file, nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatal(err)
			}
			if af.Doc != nil {
				docs++
			}
		}
		if docs != 1 {
			t.Errorf("%s: %d package comments, want exactly 1", pkg, docs)
		}
	}
}
