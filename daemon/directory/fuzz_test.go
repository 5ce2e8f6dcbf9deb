package directory_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"deskgate/daemon/directory"
)

// FuzzParse feeds YAML and JSON documents to the parsers: they must never
// panic, and whatever Parse accepts must be internally consistent and
// survive a JSON round trip unchanged.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(invalidDir, "*.yaml"))
	seeds = append(seeds, demoFile)
	for _, name := range seeds {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	demo, err := os.ReadFile(demoFile)
	if err != nil {
		f.Fatal(err)
	}
	s, err := directory.Parse(demo)
	if err != nil {
		f.Fatal(err)
	}
	j, _ := json.Marshal(s.Document())
	f.Add(j)
	f.Add([]byte(`{"plan":"pro","users":[{"id":"a","extension":"10","license":"talk"}],"Plan":1}`))
	f.Add([]byte("plan: pro\nusers: [{id: a, extension: \"10\", license: talk}]\nschedules: {s: {fri-mon: [\"00:00-24:00\"]}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		directory.ParseYAML(data)
		directory.ParseJSON(data)
		s, err := directory.Parse(data)
		if err != nil {
			if _, ok := err.(*directory.ValidationError); !ok {
				t.Fatalf("error is %T, want *ValidationError: %v", err, err)
			}
			return
		}
		checkConsistent(t, s)
		b, err := json.Marshal(s.Document())
		if err != nil {
			t.Fatalf("marshal accepted document: %v", err)
		}
		back, err := directory.ParseJSON(b)
		if err != nil {
			t.Fatalf("accepted document fails as JSON: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(back.Document(), s.Document()) {
			t.Fatalf("JSON round trip changed the document:\n%s", b)
		}
	})
}

// checkConsistent checks the invariants routing and provisioning rely on.
func checkConsistent(t *testing.T, s *directory.Snapshot) {
	t.Helper()
	if probs := directory.Validate(s.Document()); len(probs) != 0 {
		t.Fatalf("accepted document has problems: %v", probs)
	}
	for _, p := range s.Phones() {
		if _, ok := s.User(p.User); !ok {
			t.Fatalf("phone %s: user %q does not resolve", p.MAC, p.User)
		}
		if q, ok := s.Phone(p.MAC); !ok || q.MAC != p.MAC || !directory.KnownModel(p.Model) {
			t.Fatalf("phone %q does not resolve to itself", p.MAC)
		}
	}
	for _, u := range s.Users() {
		if e, ok := s.ByExtension(u.Extension); !ok || e.User == nil || e.User.ID != u.ID {
			t.Fatalf("extension %q does not resolve to user %q", u.Extension, u.ID)
		}
		for _, n := range u.Numbers {
			if e, ok := s.Lookup(n); !ok || e.User == nil || e.User.ID != u.ID {
				t.Fatalf("number %q does not resolve to user %q", n, u.ID)
			}
		}
	}
	for _, d := range s.Departments() {
		if e, ok := s.Lookup(d.Extension); !ok || e.Department == nil || e.Department.ID != d.ID {
			t.Fatalf("extension %q does not resolve to department %q", d.Extension, d.ID)
		}
		if len(d.Operators) > directory.MaxOperators {
			t.Fatalf("department %q has %d operators", d.ID, len(d.Operators))
		}
		for _, op := range d.Operators {
			if _, ok := s.User(op); !ok {
				t.Fatalf("operator %q of %q does not resolve", op, d.ID)
			}
		}
	}
	for _, p := range s.Pairings() {
		e, okE := s.User(p.Executive)
		a, okA := s.User(p.Assistant)
		if !okE || !okA || p.Executive == p.Assistant ||
			e.License == directory.LicenseContactCenter || a.License == directory.LicenseContactCenter {
			t.Fatalf("invalid pairing accepted: %+v", p)
		}
		for _, q := range s.AssistantsOf(p.Assistant) {
			if q.Assistant == p.Executive {
				t.Fatalf("reciprocal pairing accepted: %+v and %+v", p, q)
			}
		}
	}
}
