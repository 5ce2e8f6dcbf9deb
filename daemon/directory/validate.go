package directory

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Limits enforced by Validate.
const (
	// MaxOperators is the most operators a department may have (docs/spec.md §3).
	MaxOperators = 25
	// MaxRingTimeout bounds ring_timeout: longer than five minutes is
	// certainly a typo (and would hold a phone line open that long).
	MaxRingTimeout = Duration(5 * time.Minute)
)

// Validate checks a document against the rules of docs/spec.md §3 and returns every
// problem, in document order: plan and timezone, schedules (by name), users,
// departments, phones, pairings. Rules beyond docs/spec.md's wording:
//   - plan and license are required; timezone is optional (empty means UTC)
//     but must be an IANA name ("Local" is refused: it depends on the box);
//   - user and department ids share one namespace (a department may not
//     have a user's id), as do extensions and numbers;
//   - extensions are 2 to 8 digits (feature codes start with '*');
//     numbers are E.164 (+, then 7 to 15 digits, the first not 0);
//   - ring_timeout is between 0 (the default) and MaxRingTimeout;
//     no_answer and closed are sip: or sips: URIs;
//   - a schedule needs opening hours on at least one day.
//
// Validate does not modify doc. MACs and models are compared in their
// normalised forms, so it accepts any spelling Parse accepts.
func Validate(doc *Document) []Problem {
	probs, _ := validate(doc)
	return probs
}

type checker struct {
	doc   *Document
	probs []Problem
	ids   map[string]string // user or department id -> label of first owner
	users map[string]*User
	exts  map[string]string // extension -> label of first owner
	nums  map[string]string // number -> label of first owner
}

func validate(doc *Document) ([]Problem, *time.Location) {
	c := &checker{
		doc:   doc,
		ids:   make(map[string]string, len(doc.Users)+len(doc.Departments)),
		users: make(map[string]*User, len(doc.Users)),
		exts:  make(map[string]string, len(doc.Users)+len(doc.Departments)),
		nums:  make(map[string]string),
	}
	c.plan()
	loc := c.timezone()
	c.schedules()
	for i := range doc.Users {
		c.user(i, &doc.Users[i])
	}
	for i := range doc.Departments {
		c.department(i, &doc.Departments[i])
	}
	c.phones()
	c.pairings()
	return c.probs, loc
}

func (c *checker) addf(entry, format string, args ...any) {
	c.probs = append(c.probs, Problem{Entries: []string{entry}, Msg: fmt.Sprintf(format, args...)})
}

// addRel records a problem involving a second entry, other.
func (c *checker) addRel(entry, other, format string, args ...any) {
	c.probs = append(c.probs, Problem{Entries: []string{entry, other}, Msg: fmt.Sprintf(format, args...)})
}

func (c *checker) plan() {
	switch c.doc.Plan {
	case PlanStandard, PlanPro, PlanEnterprise:
	case "":
		c.addf("plan", "plan is missing (standard, pro or enterprise)")
	default:
		c.addf("plan", "%q is not one of standard, pro, enterprise", c.doc.Plan)
	}
}

func (c *checker) timezone() *time.Location {
	tz := c.doc.Timezone
	if tz == "Local" {
		c.addf("timezone", `"Local" depends on the gateway's settings; name the office's zone, such as America/New_York`)
		return time.UTC
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		c.addf("timezone", "unknown time zone %q (use an IANA name such as America/New_York or Europe/Berlin)", tz)
		return time.UTC
	}
	return loc
}

func (c *checker) schedules() {
	names := make([]string, 0, len(c.doc.Schedules))
	for name := range c.doc.Schedules {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := c.doc.Schedules[name]
		label := "schedules." + name
		if !validID(name) {
			c.addf(label, "schedule name %q may only contain lower-case letters, digits, '.', '_' and '-'", name)
		}
		for _, p := range s.problems {
			c.addf(label, "%s", p)
		}
		if len(s.problems) == 0 && !s.hasHours() {
			c.addf(label, "has no opening hours on any day (add e.g. mon-fri: [\"09:00-17:00\"])")
		}
	}
}

// id checks a user or department id and claims it.
func (c *checker) id(label, id string) {
	switch {
	case id == "":
		c.addf(label, "id is missing")
	case !validID(id):
		c.addf(label, "id %q may only contain lower-case letters, digits, '.', '_' and '-'", id)
	case c.ids[id] != "":
		c.addRel(label, c.ids[id], "id %q is already used by %s", id, c.ids[id])
	default:
		c.ids[id] = label
	}
}

func (c *checker) user(i int, u *User) {
	label := entityLabel("users", i, u.ID)
	c.id(label, u.ID)
	if u.ID != "" && c.users[u.ID] == nil {
		c.users[u.ID] = u
	}
	switch u.License {
	case LicenseTalk, LicenseSell, LicenseContactCenter:
	case "":
		c.addf(label, "license is missing (talk, sell or contact_center)")
	default:
		c.addf(label, "license %q is not one of talk, sell, contact_center", u.License)
	}
	c.reachable(label, u.Extension, u.Numbers)
	c.routing(label, u.Schedule, u.NoAnswer, u.Closed, u.RingTimeout)
}

func (c *checker) department(i int, d *Department) {
	label := entityLabel("departments", i, d.ID)
	c.id(label, d.ID)
	c.reachable(label, d.Extension, d.Numbers)
	c.routing(label, d.Schedule, d.NoAnswer, d.Closed, d.RingTimeout)
	seen := make(map[string]bool, len(d.Operators))
	for _, op := range d.Operators {
		switch {
		case seen[op]:
			c.addf(label, "operator %q is listed twice", op)
		case c.users[op] == nil:
			c.addf(label, "operator %q is not a user", op)
		}
		seen[op] = true
	}
	if len(d.Operators) > MaxOperators {
		c.addf(label, "has %d operators; a department can have at most %d", len(d.Operators), MaxOperators)
	}
}

// reachable checks the extension and numbers of a user or department.
func (c *checker) reachable(label, ext string, numbers []string) {
	switch {
	case ext == "":
		c.addf(label, "extension is missing")
	case !validExtension(ext):
		c.addf(label, "extension %q must be 2 to 8 digits", ext)
	case c.exts[ext] != "":
		c.addRel(label, c.exts[ext], "extension %s is already used by %s", ext, c.exts[ext])
	default:
		c.exts[ext] = label
	}
	for _, n := range numbers {
		switch {
		case !validE164(n):
			c.addf(label, "number %q is not an E.164 number (+, country code and number, digits only, such as +15551230001)", n)
		case c.nums[n] == label:
			c.addf(label, "number %s is listed twice", n)
		case c.nums[n] != "":
			c.addRel(label, c.nums[n], "number %s is already used by %s", n, c.nums[n])
		default:
			c.nums[n] = label
		}
	}
}

// routing checks the schedule and call-handling settings of a user or
// department.
func (c *checker) routing(label, schedule, noAnswer, closed string, timeout Duration) {
	if schedule != "" {
		if _, ok := c.doc.Schedules[schedule]; !ok {
			c.addf(label, "schedule %q is not defined under schedules", schedule)
		}
	}
	for _, f := range []struct{ key, uri string }{{"no_answer", noAnswer}, {"closed", closed}} {
		if f.uri != "" && !validSIPURI(f.uri) {
			c.addf(label, "%s %q is not a sip: or sips: URI (such as sip:vm-1001@voicemail.example.test)", f.key, f.uri)
		}
	}
	switch {
	case timeout < 0:
		c.addf(label, "ring_timeout %s is negative", timeout)
	case timeout > MaxRingTimeout:
		c.addf(label, "ring_timeout %s is longer than the maximum of %s", timeout, MaxRingTimeout)
	}
}

// entityLabel names the i-th entry of a list, with its id when it has a
// usable one: "users[2] (jsmith)".
func entityLabel(list string, i int, id string) string {
	switch {
	case id == "":
		return fmt.Sprintf("%s[%d]", list, i)
	case validID(id):
		return fmt.Sprintf("%s[%d] (%s)", list, i, id)
	}
	return fmt.Sprintf("%s[%d] (%q)", list, i, id)
}

func validID(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func validExtension(s string) bool { return len(s) >= 2 && len(s) <= 8 && allDigits(s) }

// validE164 matches ^\+[1-9][0-9]{6,14}$.
func validE164(s string) bool {
	d, ok := strings.CutPrefix(s, "+")
	return ok && len(d) >= 7 && len(d) <= 15 && allDigits(d) && d[0] != '0'
}

// validSIPURI is a light check: the scheme and something after it, with no
// spaces or control characters. The trunk or voicemail system decides the rest.
func validSIPURI(s string) bool {
	lower := strings.ToLower(s)
	rest, ok := strings.CutPrefix(lower, "sips:")
	if !ok {
		rest, ok = strings.CutPrefix(lower, "sip:")
	}
	if !ok || rest == "" {
		return false
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f {
			return false
		}
	}
	return true
}
