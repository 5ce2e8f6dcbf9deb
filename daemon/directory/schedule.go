package directory

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ClosedDatesKey is the schedule key listing whole days (YYYY-MM-DD, in the
// office's time zone) on which the schedule is closed.
const ClosedDatesKey = "closed_dates"

// Schedule is a named set of opening hours, written as
//
//	mon-fri: ["09:00-17:00"]
//	sat: ["10:00-12:00"]
//	closed_dates: ["2026-12-25"]
//
// Keys are days (mon, tue, wed, thu, fri, sat, sun) or day ranges (mon-fri);
// a range may wrap past Sunday (fri-mon is fri, sat, sun, mon). Each day
// holds "HH:MM-HH:MM" ranges of local time, start included and end excluded;
// "24:00" is allowed as an end. A range must end after it starts, so hours
// past midnight are written on the next day ("fri: [22:00-24:00]",
// "sat: [00:00-06:00]"). Days named by several keys get the union of their
// ranges. A Schedule is immutable once built; the zero Schedule is never open.
type Schedule struct {
	spec     map[string][]string // as written, for marshalling
	week     [7][]span           // by time.Weekday
	closed   []int               // sorted unique yyyymmdd
	problems []string            // reported by Validate
}

// span is [from, to) in seconds since local midnight.
type span struct{ from, to int }

// NewSchedule builds a Schedule from its written form (the same keys as in
// office.yaml, including closed_dates).
func NewSchedule(spec map[string][]string) (Schedule, error) {
	own := make(map[string][]string, len(spec))
	for k, v := range spec {
		own[k] = slices.Clone(v)
	}
	s := compileSchedule(own)
	if len(s.problems) > 0 {
		return Schedule{}, fmt.Errorf("invalid schedule: %s", strings.Join(s.problems, "; "))
	}
	return s, nil
}

func compileSchedule(spec map[string][]string) Schedule {
	s := Schedule{spec: spec}
	keys := make([]string, 0, len(spec))
	for k := range spec {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic problem order
	for _, k := range keys {
		if k == ClosedDatesKey {
			s.addClosed(spec[k])
			continue
		}
		days, err := parseDays(k)
		if err != nil {
			s.problems = append(s.problems, err.Error())
			continue
		}
		for _, r := range spec[k] {
			sp, err := parseSpan(r)
			if err != nil {
				s.problems = append(s.problems, fmt.Sprintf("%s: %v", k, err))
				continue
			}
			for _, d := range days {
				s.week[d] = append(s.week[d], sp)
			}
		}
	}
	for d := range s.week {
		slices.SortFunc(s.week[d], func(a, b span) int { return a.from - b.from })
	}
	slices.Sort(s.closed)
	s.closed = slices.Compact(s.closed)
	return s
}

func (s *Schedule) addClosed(dates []string) {
	for _, d := range dates {
		t, err := time.Parse(time.DateOnly, strings.TrimSpace(d))
		if err != nil {
			s.problems = append(s.problems, fmt.Sprintf("closed_dates: %q is not a date written YYYY-MM-DD", d))
			continue
		}
		s.closed = append(s.closed, dateKey(t))
	}
}

func dateKey(t time.Time) int {
	y, m, d := t.Date()
	return y*10000 + int(m)*100 + d
}

// dayIndex maps a day key to its time.Weekday number.
func dayIndex(name string) (int, bool) {
	switch name {
	case "sun":
		return 0, true
	case "mon":
		return 1, true
	case "tue":
		return 2, true
	case "wed":
		return 3, true
	case "thu":
		return 4, true
	case "fri":
		return 5, true
	case "sat":
		return 6, true
	}
	return 0, false
}

// parseDays expands "mon", "mon-fri" or a wrapping "fri-mon" into weekdays.
func parseDays(key string) ([]time.Weekday, error) {
	from, to, isRange := strings.Cut(key, "-")
	a, okA := dayIndex(from)
	b, okB := dayIndex(to)
	if !isRange {
		b, okB = a, okA
	}
	if !okA || !okB {
		return nil, fmt.Errorf("%q is not a day or day range (use mon, tue, wed, thu, fri, sat, sun, a range such as mon-fri, or closed_dates)", key)
	}
	if isRange && a == b {
		return nil, fmt.Errorf("day range %q starts and ends on the same day (write %s)", key, from)
	}
	var days []time.Weekday
	for d := a; ; d = (d + 1) % 7 {
		days = append(days, time.Weekday(d))
		if d == b {
			return days, nil
		}
	}
}

// parseSpan parses "HH:MM-HH:MM".
func parseSpan(r string) (span, error) {
	from, to, ok := strings.Cut(strings.TrimSpace(r), "-")
	if !ok {
		return span{}, fmt.Errorf("%q is not a time range written HH:MM-HH:MM", r)
	}
	a, okA := parseClock(from, false)
	b, okB := parseClock(to, true)
	if !okA || !okB {
		return span{}, fmt.Errorf("%q is not a time range written HH:MM-HH:MM (00:00 to 24:00)", r)
	}
	if b <= a {
		return span{}, fmt.Errorf("time range %q ends before it starts (split ranges that pass midnight over two days)", r)
	}
	return span{from: a, to: b}, nil
}

// parseClock parses "HH:MM" into seconds since midnight; "24:00" only as an end.
func parseClock(s string, end bool) (int, bool) {
	if len(s) != 5 || s[2] != ':' {
		return 0, false
	}
	for _, i := range []int{0, 1, 3, 4} {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	h := int(s[0]-'0')*10 + int(s[1]-'0')
	m := int(s[3]-'0')*10 + int(s[4]-'0')
	switch {
	case m > 59, h > 24, h == 24 && (m != 0 || !end):
		return 0, false
	}
	return h*3600 + m*60, true
}

// Open reports whether the schedule is open at t, read as wall-clock time in
// loc (UTC if nil). Across a DST change the wall clock decides: a local time
// that happens twice is open both times if its range contains it, and a
// skipped local time is never reached.
func (s Schedule) Open(t time.Time, loc *time.Location) bool {
	if loc == nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	if _, closed := slices.BinarySearch(s.closed, dateKey(lt)); closed {
		return false
	}
	sec := lt.Hour()*3600 + lt.Minute()*60 + lt.Second()
	for _, sp := range s.week[lt.Weekday()] {
		if sec >= sp.from && sec < sp.to {
			return true
		}
	}
	return false
}

// hasHours reports whether any day has an opening range.
func (s Schedule) hasHours() bool {
	for _, d := range s.week {
		if len(d) > 0 {
			return true
		}
	}
	return false
}

// UnmarshalYAML implements yaml.Unmarshaler. Problems inside the schedule
// (bad day keys, ranges, dates) are kept for Validate so they are reported
// with the schedule's name alongside every other problem.
func (s *Schedule) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf(
			"line %d: a schedule must be a mapping of days to time ranges, such as mon-fri: [\"09:00-17:00\"]", n.Line)}}
	}
	var raw map[string]yaml.Node
	if err := n.Decode(&raw); err != nil {
		return err
	}
	spec := make(map[string][]string, len(raw))
	var bad []string
	for k, v := range raw {
		var list []string
		if err := v.Decode(&list); err != nil {
			bad = append(bad, fmt.Sprintf("%s (line %d) must be a list such as [\"09:00-17:00\"]", k, v.Line))
			continue
		}
		spec[k] = list
	}
	*s = compileSchedule(spec)
	slices.Sort(bad)
	s.problems = append(bad, s.problems...)
	return nil
}

// MarshalYAML implements yaml.Marshaler.
func (s Schedule) MarshalYAML() (any, error) { return s.spec, nil }

// UnmarshalJSON implements json.Unmarshaler; see UnmarshalYAML.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("a schedule must be an object of days to time ranges, such as {\"mon-fri\": [\"09:00-17:00\"]}")
	}
	if raw == nil {
		return nil
	}
	spec := make(map[string][]string, len(raw))
	var bad []string
	for k, v := range raw {
		var list []string
		if err := json.Unmarshal(v, &list); err != nil {
			bad = append(bad, fmt.Sprintf("%s must be a list such as [\"09:00-17:00\"]", k))
			continue
		}
		spec[k] = list
	}
	*s = compileSchedule(spec)
	slices.Sort(bad)
	s.problems = append(bad, s.problems...)
	return nil
}

// MarshalJSON implements json.Marshaler.
func (s Schedule) MarshalJSON() ([]byte, error) { return json.Marshal(s.spec) }
