package directory_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"deskgate/daemon/directory"
)

func newYork(t *testing.T) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func mustSchedule(t *testing.T, spec map[string][]string) directory.Schedule {
	t.Helper()
	s, err := directory.NewSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestScheduleOpen(t *testing.T) {
	ny := newYork(t)
	local := func(s string) time.Time { // wall clock in New York
		tm, err := time.ParseInLocation("2006-01-02 15:04:05", s, ny)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	office := map[string][]string{"mon-fri": {"09:00-17:00"}, "sat": {"10:00-12:00"}}
	overnight := map[string][]string{"fri": {"22:00-24:00"}, "sat": {"00:00-06:00"}}
	allWeek := map[string][]string{"mon-sun": {"00:00-24:00"}, "closed_dates": {"2026-12-25"}}
	tests := []struct {
		name string
		spec map[string][]string
		at   time.Time
		want bool
	}{
		{"monday before opening", office, local("2026-11-23 08:59:59"), false},
		{"monday at opening", office, local("2026-11-23 09:00:00"), true},
		{"monday last second", office, local("2026-11-23 16:59:59"), true},
		{"monday at closing (end excluded)", office, local("2026-11-23 17:00:00"), false},
		{"saturday morning", office, local("2026-11-28 11:00:00"), true},
		{"sunday", office, local("2026-11-29 11:00:00"), false},
		{"21:30 UTC is 16:30 in New York: open", office, utc("2026-11-23T21:30:00Z"), true},
		{"13:30 UTC is 08:30 in New York: closed", office, utc("2026-11-24T13:30:00Z"), false},
		{"friday before midnight", overnight, local("2026-11-27 23:59:59"), true},
		{"saturday at midnight", overnight, local("2026-11-28 00:00:00"), true},
		{"saturday at six", overnight, local("2026-11-28 06:00:00"), false},
		{"thursday night", overnight, local("2026-11-26 23:00:00"), false},
		{"range to 24:00, last second", allWeek, local("2026-12-24 23:59:59"), true},
		{"closed date starts at local midnight", allWeek, local("2026-12-25 00:00:00"), false},
		{"closed date in UTC is still the 24th in New York", allWeek, utc("2026-12-25T04:30:00Z"), true},
		{"closed date ends at local midnight", allWeek, utc("2026-12-26T05:00:00Z"), true},
		{"closed date late evening", allWeek, utc("2026-12-26T04:59:00Z"), false},
		{"wrapping range covers sunday", map[string][]string{"fri-mon": {"09:00-17:00"}}, local("2026-11-29 10:00:00"), true},
		{"wrapping range skips tuesday", map[string][]string{"fri-mon": {"09:00-17:00"}}, local("2026-11-24 10:00:00"), false},
		{"union of overlapping keys", map[string][]string{"mon-fri": {"09:00-12:00"}, "wed": {"11:00-18:00"}}, local("2026-11-25 17:30:00"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := mustSchedule(t, tc.spec).Open(tc.at, ny); got != tc.want {
				t.Errorf("Open(%s) = %v, want %v", tc.at.In(ny).Format("Mon 2006-01-02 15:04:05 MST"), got, tc.want)
			}
		})
	}
}

// openMinutes counts the real minutes of the UTC day starting at from+offset
// during which s is open in New York.
func openMinutes(t *testing.T, s directory.Schedule, from time.Time) int {
	t.Helper()
	ny := newYork(t)
	n := 0
	for m := range 24 * 60 {
		if s.Open(from.Add(time.Duration(m)*time.Minute), ny) {
			n++
		}
	}
	return n
}

func TestScheduleOpenAcrossDST(t *testing.T) {
	ny := newYork(t)
	// New York day boundaries as instants: 2026-03-08 and 2026-11-01 are
	// Sundays on which clocks change at 02:00 local.
	spring := time.Date(2026, 3, 8, 0, 0, 0, 0, ny)
	fall := time.Date(2026, 11, 1, 0, 0, 0, 0, ny)
	tests := []struct {
		name string
		spec map[string][]string
		day  time.Time
		want int // open minutes in the 24 real hours from day
	}{
		{"skipped hour never opens", map[string][]string{"sun": {"02:00-03:00"}}, spring, 0},
		{"skipped hour opens a week later", map[string][]string{"sun": {"02:00-03:00"}}, spring.AddDate(0, 0, 7), 60},
		{"range over the jump lasts one real hour", map[string][]string{"sun": {"01:00-03:00"}}, spring, 60},
		{"repeated hour is open twice", map[string][]string{"sun": {"01:00-02:00"}}, fall, 120},
		{"ordinary day hours unchanged", map[string][]string{"sun": {"09:00-17:00"}}, fall, 480},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := openMinutes(t, mustSchedule(t, tc.spec), tc.day); got != tc.want {
				t.Errorf("open for %d minutes, want %d", got, tc.want)
			}
		})
	}
	t.Run("01:30 happens twice and is open both times", func(t *testing.T) {
		s := mustSchedule(t, map[string][]string{"sun": {"01:15-01:45"}})
		edt := time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC) // 01:30 EDT
		est := time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC) // 01:30 EST
		for _, at := range []time.Time{edt, est} {
			if at.In(ny).Format("15:04") != "01:30" || !s.Open(at, ny) {
				t.Errorf("%s (%s local) not open", at, at.In(ny).Format("15:04 MST"))
			}
		}
	})
}

func TestScheduleZeroAndNilLocation(t *testing.T) {
	var zero directory.Schedule
	if zero.Open(time.Now(), nil) {
		t.Error("zero Schedule is open")
	}
	s := mustSchedule(t, map[string][]string{"mon": {"09:00-10:00"}})
	mon := time.Date(2026, 11, 23, 9, 30, 0, 0, time.UTC)
	if !s.Open(mon, nil) {
		t.Error("nil location must mean UTC")
	}
}

func TestNewScheduleErrors(t *testing.T) {
	_, err := directory.NewSchedule(map[string][]string{"mon": {"10:00-09:00"}, "xyz": nil})
	if err == nil || !strings.Contains(err.Error(), "ends before it starts") || !strings.Contains(err.Error(), `"xyz" is not a day`) {
		t.Fatalf("want both problems, got %v", err)
	}
}

func TestScheduleMarshalRoundTrip(t *testing.T) {
	spec := map[string][]string{"mon-fri": {"09:00-12:00", "13:00-17:00"}, "sat": {"10:00-12:00"}, "closed_dates": {"2026-12-25"}}
	s := mustSchedule(t, spec)
	formats := []struct {
		name      string
		marshal   func(any) ([]byte, error)
		unmarshal func([]byte, any) error
	}{
		{"yaml", yaml.Marshal, yaml.Unmarshal},
		{"json", json.Marshal, json.Unmarshal},
	}
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			b, err := f.marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			var back directory.Schedule
			if err := f.unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, s) {
				t.Errorf("round trip through %s changed the schedule:\n%s", f.name, b)
			}
		})
	}
}
