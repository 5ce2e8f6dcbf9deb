package directorytest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

func TestMustParseDedents(t *testing.T) {
	s := directorytest.MustParse(t, `
		plan: pro
		users:
		  - id: amy
		    extension: "101"
		    license: talk
	`)
	if u, ok := s.User("amy"); !ok || u.Extension != "101" {
		t.Fatalf("User(amy) = %+v, %v", u, ok)
	}
}

// fatalRecorder is a testing.TB whose Fatalf records the message and ends
// the goroutine, as the real one does.
type fatalRecorder struct {
	testing.TB
	msg string
}

func (f *fatalRecorder) Helper() {}

func (f *fatalRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func TestMustParseFailsWithEveryProblem(t *testing.T) {
	rec := &fatalRecorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		directorytest.MustParse(rec, "plan: gold\nusers:\n  - {id: amy, extension: \"1\", license: talk}\n")
		t.Error("MustParse returned for an invalid document")
	}()
	<-done
	for _, want := range []string{`plan: "gold" is not one of`, `users[0] (amy): extension "1" must be 2 to 8 digits`} {
		if !strings.Contains(rec.msg, want) {
			t.Errorf("Fatalf message lacks %q:\n%s", want, rec.msg)
		}
	}
}

func TestDemo(t *testing.T) {
	s := directorytest.Demo(t)
	if s.Plan() != directory.PlanPro || len(s.Users()) != 10 || len(s.Departments()) != 2 || len(s.Phones()) < 10 {
		t.Fatalf("demo office: plan %s, %d users, %d departments, %d phones", s.Plan(), len(s.Users()), len(s.Departments()), len(s.Phones()))
	}
	vendors := map[string]bool{}
	for _, p := range s.Phones() {
		vendors[directory.Vendor(p.Model)] = true
	}
	if !vendors["yealink"] || !vendors["poly"] {
		t.Errorf("demo phones' vendors = %v, want yealink and poly", vendors)
	}
	if !strings.HasSuffix(directorytest.DemoPath(t), "testdata/demo/office.yaml") {
		t.Errorf("DemoPath = %s", directorytest.DemoPath(t))
	}
}

func TestGenerateOffice(t *testing.T) {
	tests := []struct{ users, depts, phones, pairings int }{
		{0, 0, 0, 0},
		{1, 1, 1, 0},
		{2, 0, 2, 1},
		{30, 3, 24, 3},
		{1000, 50, 800, 100},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%d users %d departments", tc.users, tc.depts), func(t *testing.T) {
			doc := directorytest.GenerateOffice(tc.users, tc.depts)
			s, err := directory.Parse(doc)
			if err != nil {
				t.Fatalf("generated office is invalid:\n%v", err)
			}
			if len(s.Users()) != tc.users || len(s.Departments()) != tc.depts || len(s.Phones()) != tc.phones || len(s.Pairings()) != tc.pairings {
				t.Errorf("got %d users, %d departments, %d phones, %d pairings", len(s.Users()), len(s.Departments()), len(s.Phones()), len(s.Pairings()))
			}
			for _, d := range s.Departments() {
				if want := min(tc.users, directory.MaxOperators); len(d.Operators) != want {
					t.Errorf("department %s has %d operators, want %d", d.ID, len(d.Operators), want)
				}
			}
			if string(directorytest.GenerateOffice(tc.users, tc.depts)) != string(doc) {
				t.Error("not deterministic")
			}
		})
	}
}

func TestDedent(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"tabs", "\n\t\ta: 1\n\t\tb:\n\t\t  c: 2\n\t", "a: 1\nb:\n  c: 2\n"},
		{"spaces with blank line", "  a: 1\n\n  b: 2\n", "a: 1\n\nb: 2\n"},
		{"nothing to remove", "a: 1\n  b: 2\n", "a: 1\n  b: 2\n"},
		{"mixed prefixes keep the common part", "\t a: 1\n\t  b: 2\n", "a: 1\n b: 2\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := directorytest.Dedent(tc.in); got != tc.want {
				t.Errorf("Dedent(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
