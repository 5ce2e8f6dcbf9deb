package directory_test

import (
	"encoding/json"
	"testing"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

// BenchmarkParse1000Users parses a 1,000-user, 50-department, 800-phone
// office, the size the daemon reloads on every directory change.
func BenchmarkParse1000Users(b *testing.B) {
	doc := directorytest.GenerateOffice(1000, 50)
	s, err := directory.Parse(doc)
	if err != nil {
		b.Fatal(err)
	}
	if len(s.Users()) != 1000 || len(s.Departments()) != 50 || len(s.Phones()) != 800 {
		b.Fatalf("generated %d users, %d departments, %d phones", len(s.Users()), len(s.Departments()), len(s.Phones()))
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := directory.Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseJSON1000Users is the same office as the upstream API would
// send it.
func BenchmarkParseJSON1000Users(b *testing.B) {
	s, err := directory.Parse(directorytest.GenerateOffice(1000, 50))
	if err != nil {
		b.Fatal(err)
	}
	doc, err := json.Marshal(s.Document())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := directory.Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
