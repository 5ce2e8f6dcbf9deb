package directory_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"deskgate/daemon/directory"
)

const (
	demoFile   = "../../testdata/demo/office.yaml"
	invalidDir = "../../testdata/invalid"
)

func TestDemoOfficeIsValid(t *testing.T) {
	b, err := os.ReadFile(demoFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := directory.Parse(b)
	if err != nil {
		t.Fatalf("%s:\n%v", demoFile, err)
	}
	if n := len(s.Users()); n < 10 || len(s.Departments()) != 2 || len(s.AssistantsOf("jsmith")) != 1 {
		t.Errorf("demo office has %d users, %d departments", n, len(s.Departments()))
	}
}

// TestInvalidDocuments parses every testdata/invalid/*.yaml. Each file breaks
// one rule, named by the file, and its first line is "# expect: <text>": it
// must give exactly one problem containing that text.
func TestInvalidDocuments(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(invalidDir, "*.yaml"))
	if err != nil || len(files) < 30 {
		t.Fatalf("want the invalid documents, found %d (%v)", len(files), err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := bytes.Cut(b, []byte("\n"))
			want, ok := strings.CutPrefix(string(first), "# expect: ")
			if !ok || want == "" {
				t.Fatalf("first line must be \"# expect: <problem text>\", got %q", first)
			}
			_, err = directory.Parse(b)
			if err == nil {
				t.Fatal("accepted")
			}
			probs := problems(t, err)
			if len(probs) != 1 || !strings.Contains(probs[0].String(), want) {
				t.Fatalf("want one problem containing %q, got:\n%v", want, err)
			}
		})
	}
}
