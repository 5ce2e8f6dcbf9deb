// Package directorytest owns test helpers for the office directory: parsing
// inline YAML in tests, the demo office (testdata/demo/office.yaml) and a
// generator of large valid offices for benchmarks. It imports only
// daemon/directory and the standard library, and is imported only by tests.
package directorytest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"deskgate/daemon/directory"
)

// MustParse parses an office document written inline in a test and fails
// the test, listing every problem, if it is invalid. The YAML is dedented
// first (the indentation common to all non-blank lines is removed), so it
// can be indented with the test code; indent with spaces, as YAML requires.
func MustParse(t testing.TB, yaml string) *directory.Snapshot {
	t.Helper()
	snap, err := directory.Parse([]byte(Dedent(yaml)))
	if err != nil {
		t.Fatalf("directorytest.MustParse: invalid office document:\n%v", err)
	}
	return snap
}

// Demo returns the demo office, testdata/demo/office.yaml.
func Demo(t testing.TB) *directory.Snapshot {
	t.Helper()
	snap, err := directory.Parse(DemoYAML(t))
	if err != nil {
		t.Fatalf("directorytest.Demo: %s is invalid:\n%v", DemoPath(t), err)
	}
	return snap
}

// DemoYAML returns the bytes of the demo office file.
func DemoYAML(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(DemoPath(t))
	if err != nil {
		t.Fatalf("directorytest: read demo office: %v", err)
	}
	return b
}

// DemoPath returns the path of testdata/demo/office.yaml, found by walking up
// from the test's working directory (its package directory) to the module
// root.
func DemoPath(t testing.TB) string {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatalf("directorytest: %v", err)
	}
	return filepath.Join(root, "testdata", "demo", "office.yaml")
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module deskgate\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod of module deskgate above the working directory")
		}
		dir = parent
	}
}

// Dedent removes the leading newline of s and the indentation (spaces or
// tabs) common to all its non-blank lines, and empties blank lines.
func Dedent(s string) string {
	s = strings.TrimPrefix(s, "\n")
	lines := strings.Split(s, "\n")
	prefix := ""
	first := true
	for _, l := range lines {
		if strings.TrimSpace(l) == "" {
			continue
		}
		ind := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
		if first {
			prefix, first = ind, false
			continue
		}
		for !strings.HasPrefix(ind, prefix) {
			prefix = prefix[:len(prefix)-1]
		}
	}
	for i, l := range lines {
		if strings.TrimSpace(l) == "" {
			lines[i] = ""
			continue
		}
		lines[i] = strings.TrimPrefix(l, prefix)
	}
	return strings.Join(lines, "\n")
}
