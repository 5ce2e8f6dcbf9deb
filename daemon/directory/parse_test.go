package directory_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

const minimalYAML = "plan: pro\ntimezone: UTC\nusers:\n  - {id: amy, extension: \"101\", license: talk}\n"

func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string // every problem, in order, as Problem.String()
	}{
		{"yaml unknown key with line", "plan: pro\nusers:\n  - id: amy\n    extention: \"101\"\n",
			[]string{`line 4: unknown key "extention" in a user (known keys: id, name, extension, numbers, license, schedule, no_answer, closed, ring_timeout)`}},
		{"yaml unknown top-level key", "plan: pro\nschedule: {}\n",
			[]string{`line 2: unknown key "schedule" in the office document (known keys: version, plan, timezone, schedules, users, phones, departments, pairings)`}},
		{"yaml every unknown key at once", "plan: pro\nusers:\n  - id: amy\n    nmae: Amy\n    extention: \"101\"\nphones:\n  - {mac: x, modle: y}\n",
			[]string{`line 4: unknown key "nmae" in a user`, `line 5: unknown key "extention" in a user`, `line 7: unknown key "modle" in a phone`}},
		{"yaml duplicate key", "plan: pro\nplan: standard\n", []string{`line 2: mapping key "plan" already defined at line 1`}},
		{"yaml second document", minimalYAML + "---\nplan: standard\n", []string{"line 5: a second YAML document starts here"}},
		{"yaml trailing document marker", minimalYAML + "---\n", []string{"line 5: a second YAML document starts here"}},
		{"yaml syntax error", "plan: pro\nusers: [\n", []string{"line 2: did not find expected node content"}},
		{"yaml list for a value", "plan: [pro]\n", []string{"line 1: expected a single value, found a list"}},
		{"yaml value for a list", "plan: pro\nusers: amy\n", []string{`line 2: expected a list, each item a user, found the text "amy"`}},
		{"yaml bad duration", minimalYAML + "departments:\n  - {id: d, extension: \"200\", ring_timeout: 30}\n",
			[]string{`line 6: invalid duration "30" (write a Go duration such as 25s or 1m30s)`}},
		{"yaml empty", "", []string{"the document is empty"}},
		{"yaml only comments", "# nothing yet\n", []string{"the document is empty"}},
		{"yaml null", "~\n", []string{"the document is empty"}},
		{"json empty object", "{}", []string{"the document is empty"}},
		{"json null", " null ", []string{"the document is empty"}},
		{"json unknown key with path and position", "{\"plan\": \"pro\",\n \"users\": [{\"id\": \"amy\",\n  \"extention\": \"101\"}]}",
			[]string{`users[0] (line 3, column 3): unknown key "extention" in a user (known keys: id, name, extension, numbers, license, schedule, no_answer, closed, ring_timeout)`}},
		{"json key in the wrong case", `{"Plan": "pro"}`, []string{`document (line 1, column 2): unknown key "Plan" (keys are case-sensitive: did you mean "plan"?)`}},
		{"json duplicate key", `{"plan": "pro", "plan": "standard"}`, []string{`document (line 1, column 17): key "plan" appears twice`}},
		{"json day twice in a schedule", `{"plan": "pro", "schedules": {"s": {"mon": ["09:00-10:00"], "mon": []}}}`,
			[]string{`schedules.s (line 1, column 61): key "mon" appears twice`}},
		{"json trailing data", `{"plan": "pro"} {}`, []string{"line 1, column 17: unexpected data after the JSON document"}},
		{"json syntax error", "{\"plan\": \"pro\",\n \"users\": [}", []string{"line 2, column 12: invalid JSON: invalid character '}' looking for beginning of value"}},
		{"json truncated", `{"plan": "pro"`, []string{"invalid JSON: the document ends too early"}},
		{"json wrong type", "{\"plan\": \"pro\", \"users\": [{\"extension\": 101}]}",
			[]string{"users.extension (line 1, column 41): expected a single value, found number"}},
		{"json bad duration", `{"plan": "pro", "users": [{"ring_timeout": "25"}]}`,
			[]string{`users[0].ring_timeout (line 1, column 44): invalid duration "25"`}},
		{"rules are checked once the file reads", "plan: gold\ntimezone: Mars/Olympus\nusers:\n  - {id: amy, extension: \"1\", license: talk}\n",
			[]string{`plan: "gold" is not one of standard, pro, enterprise`, `timezone: unknown time zone "Mars/Olympus"`, `users[0] (amy): extension "1" must be 2 to 8 digits`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := directory.Parse([]byte(tc.in))
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", snap.Document())
			}
			var ve *directory.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %T %v", err, err)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Fatalf("got %d problems, want %d:\n%v", len(ve.Problems), len(tc.want), err)
			}
			for i, p := range ve.Problems {
				if !strings.HasPrefix(p.String(), tc.want[i]) {
					t.Errorf("problem %d:\ngot  %s\nwant %s...", i, p, tc.want[i])
				}
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		check func(t *testing.T, s *directory.Snapshot)
	}{
		{"unquoted YAML scalars stay strings", `
plan: pro
timezone: UTC
schedules:
  s: {mon: [09:00-17:00], closed_dates: [2026-12-25]}
users:
  - {id: amy, extension: 0101, numbers: [+15551230001], license: talk, schedule: s}
phones:
  - {mac: 001565000001, model: yealink-t54w, user: amy}
`, func(t *testing.T, s *directory.Snapshot) {
			u, _ := s.User("amy")
			if u.Extension != "0101" || u.Numbers[0] != "+15551230001" {
				t.Errorf("user = %+v", u)
			}
			if _, ok := s.Phone("00:15:65:00:00:01"); !ok {
				t.Error("phone not found")
			}
			if s.ScheduleOpen("s", time.Date(2026, 12, 25, 10, 0, 0, 0, time.UTC)) {
				t.Error("closed date not applied")
			}
		}},
		{"JSON after whitespace and a byte order mark", "\xef\xbb\xbf \n{\"plan\": \"pro\", \"users\": [{\"id\": \"amy\", \"extension\": \"101\", \"license\": \"talk\"}]}",
			func(t *testing.T, s *directory.Snapshot) {
				if _, ok := s.User("amy"); !ok {
					t.Error("user missing")
				}
			}},
		{"MACs and models are normalised", minimalYAML + "phones:\n  - {mac: 0015.65AA.BB01, model: Yealink-T54W, user: amy}\n",
			func(t *testing.T, s *directory.Snapshot) {
				p := s.Phones()[0]
				if p.MAC != "00:15:65:aa:bb:01" || p.Model != "yealink-t54w" {
					t.Errorf("phone = %+v", p)
				}
			}},
		{"empty timezone is UTC", "plan: pro\nusers: []\n", func(t *testing.T, s *directory.Snapshot) {
			if s.Location() != time.UTC {
				t.Errorf("Location = %v", s.Location())
			}
		}},
		{"YAML anchors", "plan: pro\nschedules:\n  a: &h {mon: [\"09:00-17:00\"]}\n  b: *h\nusers: []\n", func(t *testing.T, s *directory.Snapshot) {
			if !s.ScheduleOpen("b", time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)) {
				t.Error("aliased schedule not open on Monday 10:00")
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := directory.Parse([]byte(strings.TrimPrefix(tc.in, "\n")))
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, s)
		})
	}
}

func TestParseKeepsItsOwnCopy(t *testing.T) {
	buf := []byte(minimalYAML)
	s, err := directory.Parse(buf)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXX")
	if !bytes.Equal(s.Raw(), []byte(minimalYAML)) {
		t.Errorf("Raw changed with the caller's buffer: %q", s.Raw())
	}
}

// TestRoundTrip converts the demo office to JSON and YAML and checks both
// parse to the same document.
func TestRoundTrip(t *testing.T) {
	demo := directorytest.Demo(t)
	for _, f := range []struct {
		name    string
		marshal func(any) ([]byte, error)
		parse   func([]byte) (*directory.Snapshot, error)
	}{
		{"json", func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }, directory.ParseJSON},
		{"json via Parse", json.Marshal, directory.Parse},
		{"yaml", yaml.Marshal, directory.ParseYAML},
	} {
		t.Run(f.name, func(t *testing.T) {
			b, err := f.marshal(demo.Document())
			if err != nil {
				t.Fatal(err)
			}
			back, err := f.parse(b)
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(back.Document(), demo.Document()) {
				t.Errorf("document changed in the round trip:\n%s", b)
			}
		})
	}
}

func TestDurationFormats(t *testing.T) {
	var d directory.Duration
	if err := json.Unmarshal([]byte(`"1m30s"`), &d); err != nil || d.D() != 90*time.Second {
		t.Fatalf("json: %v %v", d, err)
	}
	if err := json.Unmarshal([]byte(`90`), &d); err == nil {
		t.Error("json: a bare number must be refused")
	}
	if err := yaml.Unmarshal([]byte(`[1s]`), &d); err == nil {
		t.Error("yaml: a list must be refused")
	}
	b, _ := json.Marshal(directory.Duration(25 * time.Second))
	y, _ := yaml.Marshal(directory.Duration(25 * time.Second))
	if string(b) != `"25s"` || string(y) != "25s\n" {
		t.Errorf("marshal: json %s yaml %q", b, y)
	}
}
