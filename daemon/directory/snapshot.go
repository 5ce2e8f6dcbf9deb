package directory

import (
	"maps"
	"slices"
	"time"
)

// Kind says what an extension or number belongs to.
type Kind int

// Kinds of Entry.
const (
	KindNone Kind = iota
	KindUser
	KindDepartment
)

// Entry is what an extension or E.164 number resolves to: a user or a
// department (exactly one of the pointers is set).
type Entry struct {
	Kind       Kind
	User       *User
	Department *Department
}

// Snapshot is one validated office directory with its indexes. It is
// immutable after construction: callers must not modify anything reachable
// from it, so one snapshot can be shared by every goroutine and swapped
// atomically on reload.
type Snapshot struct {
	doc Document
	raw []byte
	loc *time.Location

	users     map[string]*User
	depts     map[string]*Department
	phones    map[string]*Phone // by normalised MAC
	phonesOf  map[string][]*Phone
	byExt     map[string]Entry
	byNum     map[string]Entry
	pairsExec map[string][]Pairing // executive -> every pairing (any state)
	pairsAsst map[string][]Pairing // assistant -> every pairing (any state)
	activeOf  map[string][]Pairing // executive -> active pairings
	activeFor map[string][]Pairing // assistant -> active pairings
	deptsOf   map[string][]*Department
	schedules map[string]Schedule
}

// newSnapshot indexes a document that has already been normalised and
// validated; loc is its time zone.
func newSnapshot(doc Document, raw []byte, loc *time.Location) *Snapshot {
	s := &Snapshot{
		doc:       doc,
		raw:       raw,
		loc:       loc,
		users:     make(map[string]*User, len(doc.Users)),
		depts:     make(map[string]*Department, len(doc.Departments)),
		phones:    make(map[string]*Phone, len(doc.Phones)),
		phonesOf:  make(map[string][]*Phone),
		byExt:     make(map[string]Entry, len(doc.Users)+len(doc.Departments)),
		byNum:     make(map[string]Entry),
		pairsExec: make(map[string][]Pairing),
		pairsAsst: make(map[string][]Pairing),
		activeOf:  make(map[string][]Pairing),
		activeFor: make(map[string][]Pairing),
		deptsOf:   make(map[string][]*Department),
		schedules: doc.Schedules,
	}
	for i := range s.doc.Users {
		u := &s.doc.Users[i]
		s.users[u.ID] = u
		e := Entry{Kind: KindUser, User: u}
		s.byExt[u.Extension] = e
		for _, n := range u.Numbers {
			s.byNum[n] = e
		}
	}
	for i := range s.doc.Departments {
		d := &s.doc.Departments[i]
		s.depts[d.ID] = d
		e := Entry{Kind: KindDepartment, Department: d}
		s.byExt[d.Extension] = e
		for _, n := range d.Numbers {
			s.byNum[n] = e
		}
		for _, op := range d.Operators {
			s.deptsOf[op] = append(s.deptsOf[op], d)
		}
	}
	for i := range s.doc.Phones {
		p := &s.doc.Phones[i]
		s.phones[p.MAC] = p
		s.phonesOf[p.User] = append(s.phonesOf[p.User], p)
	}
	for _, p := range s.doc.Pairings {
		s.pairsExec[p.Executive] = append(s.pairsExec[p.Executive], p)
		s.pairsAsst[p.Assistant] = append(s.pairsAsst[p.Assistant], p)
		if p.Active() {
			s.activeOf[p.Executive] = append(s.activeOf[p.Executive], p)
			s.activeFor[p.Assistant] = append(s.activeFor[p.Assistant], p)
		}
	}
	return s
}

// clip caps a shared slice's capacity so a caller's append copies instead of
// writing into the snapshot.
func clip[S ~[]E, E any](s S) S { return s[:len(s):len(s)] }

// Document returns a deep copy of the (normalised) document the snapshot
// was built from; the caller may modify it.
func (s *Snapshot) Document() *Document {
	d := s.doc
	d.Schedules = maps.Clone(s.doc.Schedules) // Schedule values are immutable
	d.Users = slices.Clone(s.doc.Users)
	for i := range d.Users {
		d.Users[i].Numbers = slices.Clone(d.Users[i].Numbers)
	}
	d.Phones = slices.Clone(s.doc.Phones)
	d.Departments = slices.Clone(s.doc.Departments)
	for i := range d.Departments {
		d.Departments[i].Numbers = slices.Clone(d.Departments[i].Numbers)
		d.Departments[i].Operators = slices.Clone(d.Departments[i].Operators)
	}
	d.Pairings = slices.Clone(s.doc.Pairings)
	for i := range d.Pairings {
		d.Pairings[i].Permissions = slices.Clone(d.Pairings[i].Permissions)
	}
	return &d
}

// Raw returns the bytes the snapshot was parsed from (read only).
func (s *Snapshot) Raw() []byte { return clip(s.raw) }

// Version is the document's optional version string.
func (s *Snapshot) Version() string { return s.doc.Version }

// Plan is the office's plan (standard, pro or enterprise).
func (s *Snapshot) Plan() string { return s.doc.Plan }

// Location is the office's time zone.
func (s *Snapshot) Location() *time.Location { return s.loc }

// User returns the user with that id.
func (s *Snapshot) User(id string) (*User, bool) { u, ok := s.users[id]; return u, ok }

// Department returns the department with that id.
func (s *Snapshot) Department(id string) (*Department, bool) {
	d, ok := s.depts[id]
	return d, ok
}

// Phone returns the phone with that MAC (any common spelling).
func (s *Snapshot) Phone(mac string) (*Phone, bool) {
	m, err := NormalizeMAC(mac)
	if err != nil {
		return nil, false
	}
	p, ok := s.phones[m]
	return p, ok
}

// PhonesOf returns the phones whose primary line is the user, in document
// order (read only).
func (s *Snapshot) PhonesOf(user string) []*Phone { return clip(s.phonesOf[user]) }

// ByExtension resolves an extension.
func (s *Snapshot) ByExtension(ext string) (Entry, bool) { e, ok := s.byExt[ext]; return e, ok }

// ByNumber resolves an E.164 number.
func (s *Snapshot) ByNumber(num string) (Entry, bool) { e, ok := s.byNum[num]; return e, ok }

// Lookup resolves an extension or an E.164 number.
func (s *Snapshot) Lookup(key string) (Entry, bool) {
	if e, ok := s.byExt[key]; ok {
		return e, true
	}
	e, ok := s.byNum[key]
	return e, ok
}

// AssistantsOf returns the active pairings whose executive is exec, in
// document order (read only).
func (s *Snapshot) AssistantsOf(exec string) []Pairing { return clip(s.activeOf[exec]) }

// ExecutivesOf returns the active pairings whose assistant is asst, in
// document order (read only).
func (s *Snapshot) ExecutivesOf(asst string) []Pairing { return clip(s.activeFor[asst]) }

// PairingsOf returns every pairing (any state) the user is part of: those
// where the user is the executive, then those where the user is the
// assistant. The slice is the caller's.
func (s *Snapshot) PairingsOf(user string) []Pairing {
	out := make([]Pairing, 0, len(s.pairsExec[user])+len(s.pairsAsst[user]))
	out = append(out, s.pairsExec[user]...)
	return append(out, s.pairsAsst[user]...)
}

// DepartmentsOf returns the departments the user operates, in document order
// (read only).
func (s *Snapshot) DepartmentsOf(user string) []*Department { return clip(s.deptsOf[user]) }

// SharedLine reports whether the entry with extension ext is a shared line:
// a department's (its operators share it), or an executive's with at least
// one active assistant (the executive and the assistants share it).
func (s *Snapshot) SharedLine(ext string) bool {
	e, ok := s.byExt[ext]
	switch {
	case !ok:
		return false
	case e.Kind == KindDepartment && e.Department != nil:
		return true
	case e.Kind == KindUser && e.User != nil:
		return len(s.activeOf[e.User.ID]) > 0
	}
	return false
}

// OnLine reports whether user is on the line of extension ext: the line's
// own user, an active assistant of that user, or an operator of that
// department.
func (s *Snapshot) OnLine(user, ext string) bool {
	e, ok := s.byExt[ext]
	switch {
	case !ok || user == "":
		return false
	case e.Kind == KindDepartment && e.Department != nil:
		return slices.Contains(e.Department.Operators, user)
	case e.Kind == KindUser && e.User != nil:
		if e.User.ID == user {
			return true
		}
		for _, p := range s.activeFor[user] {
			if p.Executive == e.User.ID {
				return true
			}
		}
	}
	return false
}

// Users, Departments, Phones and Pairings list the document's entries in
// document order (read only).
func (s *Snapshot) Users() []User             { return clip(s.doc.Users) }
func (s *Snapshot) Departments() []Department { return clip(s.doc.Departments) }
func (s *Snapshot) Phones() []Phone           { return clip(s.doc.Phones) }
func (s *Snapshot) Pairings() []Pairing       { return clip(s.doc.Pairings) }

// Schedule returns the named schedule (Schedule values are immutable).
func (s *Snapshot) Schedule(name string) (Schedule, bool) {
	sc, ok := s.schedules[name]
	return sc, ok
}

// ScheduleNames lists the schedules' names in alphabetical order.
func (s *Snapshot) ScheduleNames() []string { return slices.Sorted(maps.Keys(s.schedules)) }

// ScheduleOpen reports whether the named schedule is open at t; an empty name
// means always open.
func (s *Snapshot) ScheduleOpen(name string, t time.Time) bool {
	if name == "" {
		return true
	}
	sc, ok := s.schedules[name]
	if !ok {
		return true
	}
	return sc.Open(t, s.loc)
}

// UserOpen reports whether the user's schedule is open at t.
func (s *Snapshot) UserOpen(id string, t time.Time) bool {
	u, ok := s.users[id]
	return ok && s.ScheduleOpen(u.Schedule, t)
}

// DepartmentOpen reports whether the department's schedule is open at t.
func (s *Snapshot) DepartmentOpen(id string, t time.Time) bool {
	d, ok := s.depts[id]
	return ok && s.ScheduleOpen(d.Schedule, t)
}
