package directory_test

import (
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

func pairs(ps []directory.Pairing) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Executive+">"+p.Assistant+":"+p.State)
	}
	return out
}

func deptIDs(ds []*directory.Department) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func TestSnapshotLookups(t *testing.T) {
	s := directorytest.Demo(t)
	if s.Version() != "2026-11-22.1" || s.Plan() != directory.PlanPro || s.Location().String() != "America/New_York" {
		t.Errorf("Version %q Plan %q Location %v", s.Version(), s.Plan(), s.Location())
	}
	if u, ok := s.User("jsmith"); !ok || u.Name != "John Smith" {
		t.Errorf("User(jsmith) = %+v, %v", u, ok)
	}
	if _, ok := s.User("nobody"); ok {
		t.Error("User(nobody) found")
	}
	if d, ok := s.Department("sales"); !ok || d.Extension != "2100" {
		t.Errorf("Department(sales) = %+v, %v", d, ok)
	}
	for _, spelling := range []string{"00:15:65:aa:bb:01", "00-15-65-AA-BB-01", "001565aabb01", "0015.65aa.bb01"} {
		if p, ok := s.Phone(spelling); !ok || p.User != "jsmith" {
			t.Errorf("Phone(%q) = %+v, %v", spelling, p, ok)
		}
	}
	if _, ok := s.Phone("not-a-mac"); ok {
		t.Error("Phone(not-a-mac) found")
	}
	var macs []string
	for _, p := range s.PhonesOf("jsmith") {
		macs = append(macs, p.MAC)
	}
	if !slices.Equal(macs, []string{"00:15:65:aa:bb:01", "00:15:65:aa:bb:0b"}) {
		t.Errorf("PhonesOf(jsmith) = %q", macs)
	}
	tests := []struct {
		key, user, dept string
		byExt, byNum    bool
	}{
		{"1001", "jsmith", "", true, false},
		{"+15551230002", "mlee", "", false, true},
		{"2000", "", "support", true, false},
		{"+15551232100", "", "sales", false, true},
		{"9999", "", "", false, false},
		{"+15559999999", "", "", false, false},
	}
	for _, tc := range tests {
		_, okExt := s.ByExtension(tc.key)
		_, okNum := s.ByNumber(tc.key)
		e, ok := s.Lookup(tc.key)
		if okExt != tc.byExt || okNum != tc.byNum || ok != (tc.byExt || tc.byNum) {
			t.Errorf("%s: ByExtension %v ByNumber %v Lookup %v", tc.key, okExt, okNum, ok)
			continue
		}
		switch {
		case tc.user != "" && (e.Kind != directory.KindUser || e.User.ID != tc.user || e.Department != nil):
			t.Errorf("Lookup(%s) = %+v, want user %s", tc.key, e, tc.user)
		case tc.dept != "" && (e.Kind != directory.KindDepartment || e.Department.ID != tc.dept || e.User != nil):
			t.Errorf("Lookup(%s) = %+v, want department %s", tc.key, e, tc.dept)
		case !ok && e.Kind != directory.KindNone:
			t.Errorf("Lookup(%s) miss has kind %v", tc.key, e.Kind)
		}
	}
}

func TestSnapshotRelations(t *testing.T) {
	s := directorytest.Demo(t)
	tests := []struct {
		name string
		got  []string
		want []string
	}{
		{"assistants of jsmith (pending grace not counted)", pairs(s.AssistantsOf("jsmith")), []string{"jsmith>mlee:active"}},
		{"assistants of frank", pairs(s.AssistantsOf("frank")), []string{"frank>grace:active"}},
		{"assistants of an assistant", pairs(s.AssistantsOf("mlee")), nil},
		{"executives of grace (pending jsmith not counted)", pairs(s.ExecutivesOf("grace")), []string{"frank>grace:active"}},
		{"executives of mlee", pairs(s.ExecutivesOf("mlee")), []string{"jsmith>mlee:active"}},
		{"executives of nobody", pairs(s.ExecutivesOf("nobody")), nil},
		{"pairings of grace, any state", pairs(s.PairingsOf("grace")), []string{"frank>grace:active", "jsmith>grace:pending"}},
		{"pairings of jsmith, any state", pairs(s.PairingsOf("jsmith")), []string{"jsmith>mlee:active", "jsmith>grace:pending"}},
		{"departments of alice", deptIDs(s.DepartmentsOf("alice")), []string{"support", "sales"}},
		{"departments of henry", deptIDs(s.DepartmentsOf("henry")), []string{"support"}},
		{"departments of jsmith", deptIDs(s.DepartmentsOf("jsmith")), nil},
		{"schedule names", s.ScheduleNames(), []string{"business", "support-hours"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !slices.Equal(tc.got, tc.want) {
				t.Errorf("got %q, want %q", tc.got, tc.want)
			}
		})
	}
	if p := s.AssistantsOf("jsmith"); !p[0].Has(directory.PermVoicemail) || p[0].Has(directory.PermRecordings) {
		t.Errorf("jsmith>mlee permissions = %q", p[0].Permissions)
	}
}

func TestSnapshotOpen(t *testing.T) {
	s := directorytest.Demo(t)
	ny := s.Location()
	at := func(day string, hour int) time.Time {
		d, err := time.ParseInLocation(time.DateOnly, day, ny)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(time.Duration(hour) * time.Hour)
	}
	tests := []struct {
		name string
		got  bool
		want bool
	}{
		{"jsmith monday 10:00", s.UserOpen("jsmith", at("2026-11-23", 10)), true},
		{"jsmith monday 19:00", s.UserOpen("jsmith", at("2026-11-23", 19)), false},
		{"jsmith on Thanksgiving (closed date)", s.UserOpen("jsmith", at("2026-11-26", 10)), false},
		{"mlee has no schedule: always open", s.UserOpen("mlee", at("2026-11-29", 3)), true},
		{"unknown user", s.UserOpen("nobody", at("2026-11-23", 10)), false},
		{"support monday 19:00", s.DepartmentOpen("support", at("2026-11-23", 19)), true},
		{"support at lunch 12:30-13:00", s.DepartmentOpen("support", at("2026-11-23", 12).Add(45*time.Minute)), false},
		{"sales monday 19:00", s.DepartmentOpen("sales", at("2026-11-23", 19)), false},
		{"unknown department", s.DepartmentOpen("nobody", at("2026-11-23", 10)), false},
		{"no schedule name: open", s.ScheduleOpen("", at("2026-11-23", 3)), true},
		{"named schedule", s.ScheduleOpen("business", at("2026-11-28", 11)), true},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	if sc, ok := s.Schedule("business"); !ok || !sc.Open(at("2026-11-23", 10), ny) {
		t.Error("Schedule(business) missing or closed on Monday 10:00")
	}
}

// TestSnapshotIsNotMutableThroughItsAPI checks that what callers get back
// cannot change the snapshot: appends copy, Document is a deep copy.
func TestSnapshotIsNotMutableThroughItsAPI(t *testing.T) {
	s := directorytest.Demo(t)
	before := s.Document()

	_ = append(s.AssistantsOf("jsmith"), directory.Pairing{Executive: "x"})
	_ = append(s.ExecutivesOf("grace"), directory.Pairing{Executive: "x"})
	_ = append(s.DepartmentsOf("henry"), nil)
	_ = append(s.PhonesOf("mlee"), nil)
	_ = append(s.Users(), directory.User{ID: "x"})
	_ = append(s.Phones(), directory.Phone{MAC: "x"})
	_ = append(s.Departments(), directory.Department{ID: "x"})
	_ = append(s.Pairings(), directory.Pairing{Executive: "x"})
	_ = append(s.Raw(), 'x')
	pg := s.PairingsOf("grace")
	pg[0].State = "x"

	d := s.Document()
	d.Users[0].ID = "x"
	d.Users[0].Numbers[0] = "x"
	d.Departments[0].Operators[0] = "x"
	d.Pairings[0].Permissions[0] = "x"
	delete(d.Schedules, "business")

	if after := s.Document(); !reflect.DeepEqual(after, before) {
		t.Error("the snapshot changed through values it returned")
	}
	if s.Raw()[0] != '#' {
		t.Error("Raw changed")
	}
	if got := pairs(s.AssistantsOf("jsmith")); len(got) != 1 {
		t.Errorf("AssistantsOf changed: %q", got)
	}
	if _, ok := s.Schedule("business"); !ok {
		t.Error("schedule deleted through Document()")
	}
}

func TestSnapshotConcurrentReads(t *testing.T) {
	s := directorytest.Demo(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				s.Lookup("1001")
				s.AssistantsOf("jsmith")
				s.PairingsOf("grace")
				s.UserOpen("jsmith", time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC))
				s.Phone("00-15-65-aa-bb-01")
			}
		})
	}
	wg.Wait()
}

// TestSnapshotSharedLines: which extensions are shared lines, and who is
// on each (operators of a department; an executive and its active
// assistants).
func TestSnapshotSharedLines(t *testing.T) {
	s := directorytest.Demo(t)
	shared := []struct {
		ext  string
		want bool
	}{
		{"2000", true},  // support
		{"1001", true},  // jsmith, assisted by mlee
		{"1009", false}, // grace assists, nobody assists her
		{"1003", false}, // alice
		{"9999", false},
	}
	for _, c := range shared {
		if got := s.SharedLine(c.ext); got != c.want {
			t.Errorf("SharedLine(%s) = %v, want %v", c.ext, got, c.want)
		}
	}
	on := []struct {
		user, ext string
		want      bool
	}{
		{"alice", "2000", true},  // operator of support
		{"henry", "2100", false}, // operates support only
		{"jsmith", "1001", true}, // own line
		{"mlee", "1001", true},   // active assistant
		{"grace", "1001", false}, // pending assistant
		{"grace", "1008", true},  // active assistant of frank
		{"alice", "1001", false}, // nobody's assistant
		{"", "2000", false},      // no user
		{"alice", "9999", false}, // no line
	}
	for _, c := range on {
		if got := s.OnLine(c.user, c.ext); got != c.want {
			t.Errorf("OnLine(%q, %s) = %v, want %v", c.user, c.ext, got, c.want)
		}
	}
}
