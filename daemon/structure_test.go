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
	"deskgate/routing/digest":                 {}, // digest auth, nonces, throttle: nothing of ours
	"deskgate/routing/ringplan":               {"deskgate/daemon/directory"},
	"deskgate/routing/presence":               {"deskgate/daemon/directory", "deskgate/daemon/store"},
	"deskgate/routing/sca":                    {},
	"deskgate/provisioning":                   {"deskgate/provisioning/", "deskgate/daemon/directory", "deskgate/daemon/store"},
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
				t.Errorf("%s imports %s: against the one-way import graph (design.md)", pkg, imp)
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
