package directory_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

// baseOffice is small and valid; each case changes one thing in it.
const baseOffice = `
	plan: pro
	timezone: America/New_York
	schedules:
	  business: {mon-fri: ["09:00-17:00"]}
	users:
	  - {id: amy, extension: "101", numbers: ["+15550000001"], license: talk}
	  - {id: ben, extension: "102", license: sell}
	  - {id: cal, extension: "103", license: contact_center}
	  - {id: dot, extension: "104", license: talk}
	departments:
	  - {id: desk, extension: "200", numbers: ["+15550000200"], operators: [amy, ben]}
	phones:
	  - {mac: "00:15:65:00:00:01", model: yealink-t54w, user: amy}
	pairings:
	  - {executive: amy, assistant: ben, state: active}
`

func baseDoc(t *testing.T) *directory.Document {
	t.Helper()
	return directorytest.MustParse(t, baseOffice).Document()
}

type ruleCase struct {
	name   string
	mutate func(d *directory.Document)
	entry  string // first entry of the only problem; "" = the document must be valid
	msg    string // substring of that problem's message
}

func runRuleCases(t *testing.T, cases []ruleCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			doc := baseDoc(t)
			tc.mutate(doc)
			probs := directory.Validate(doc)
			if tc.entry == "" {
				if len(probs) != 0 {
					t.Fatalf("want no problems, got:\n%s", list(probs))
				}
				return
			}
			if len(probs) != 1 {
				t.Fatalf("want exactly one problem, got %d:\n%s", len(probs), list(probs))
			}
			p := probs[0]
			if p.Entries[0] != tc.entry || !strings.Contains(p.Msg, tc.msg) {
				t.Errorf("got  %s\nwant %s: ...%s...", p, tc.entry, tc.msg)
			}
		})
	}
}

func list(probs []directory.Problem) string {
	var b strings.Builder
	for _, p := range probs {
		fmt.Fprintf(&b, "  %s\n", p)
	}
	return b.String()
}

func TestValidateTopLevel(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"base office is valid", func(d *directory.Document) {}, "", ""},
		{"plan standard", func(d *directory.Document) { d.Plan = "standard" }, "", ""},
		{"plan enterprise", func(d *directory.Document) { d.Plan = "enterprise" }, "", ""},
		{"plan missing", func(d *directory.Document) { d.Plan = "" }, "plan", "plan is missing"},
		{"plan unknown", func(d *directory.Document) { d.Plan = "gold" }, "plan", `"gold" is not one of standard, pro, enterprise`},
		{"timezone empty means UTC", func(d *directory.Document) { d.Timezone = "" }, "", ""},
		{"timezone UTC", func(d *directory.Document) { d.Timezone = "UTC" }, "", ""},
		{"timezone unknown", func(d *directory.Document) { d.Timezone = "America/NewYork" }, "timezone", `unknown time zone "America/NewYork"`},
		{"timezone Local refused", func(d *directory.Document) { d.Timezone = "Local" }, "timezone", `"Local" depends on the gateway`},
	})
}

func TestValidateUsersAndDepartments(t *testing.T) {
	runRuleCases(t, []ruleCase{
		{"user id missing", func(d *directory.Document) { d.Users[3].ID = "" }, "users[3]", "id is missing"},
		{"user id upper case", func(d *directory.Document) { d.Users[3].ID = "Dot" }, `users[3] ("Dot")`, "may only contain lower-case letters"},
		{"user id with dots and dashes", func(d *directory.Document) { d.Users[3].ID = "d.o_t-1" }, "", ""},
		{"duplicate user id", func(d *directory.Document) { d.Users[3].ID = "amy" }, "users[3] (amy)", `id "amy" is already used by users[0] (amy)`},
		{"department id taken by a user", func(d *directory.Document) { d.Departments[0].ID = "dot" }, "departments[0] (dot)", "already used by users[3] (dot)"},
		{"duplicate department id", func(d *directory.Document) {
			d.Departments = append(d.Departments, directory.Department{ID: "desk", Extension: "201"})
		}, "departments[1] (desk)", "already used by departments[0] (desk)"},
		{"extension missing", func(d *directory.Document) { d.Users[3].Extension = "" }, "users[3] (dot)", "extension is missing"},
		{"extension one digit", func(d *directory.Document) { d.Users[3].Extension = "4" }, "users[3] (dot)", "must be 2 to 8 digits"},
		{"extension nine digits", func(d *directory.Document) { d.Users[3].Extension = "123456789" }, "users[3] (dot)", "must be 2 to 8 digits"},
		{"extension like a feature code", func(d *directory.Document) { d.Users[3].Extension = "*78" }, "users[3] (dot)", "must be 2 to 8 digits"},
		{"extension eight digits", func(d *directory.Document) { d.Users[3].Extension = "12345678" }, "", ""},
		{"duplicate extension between users", func(d *directory.Document) { d.Users[3].Extension = "101" }, "users[3] (dot)", "extension 101 is already used by users[0] (amy)"},
		{"department extension taken by a user", func(d *directory.Document) { d.Departments[0].Extension = "104" }, "departments[0] (desk)", "extension 104 is already used by users[3] (dot)"},
		{"number not E.164", func(d *directory.Document) { d.Users[3].Numbers = []string{"5550000004"} }, "users[3] (dot)", `number "5550000004" is not an E.164 number`},
		{"number with leading zero", func(d *directory.Document) { d.Users[3].Numbers = []string{"+0555000004"} }, "users[3] (dot)", "is not an E.164 number"},
		{"number too short", func(d *directory.Document) { d.Users[3].Numbers = []string{"+155500"} }, "users[3] (dot)", "is not an E.164 number"},
		{"number too long", func(d *directory.Document) { d.Users[3].Numbers = []string{"+1555000000000000"} }, "users[3] (dot)", "is not an E.164 number"},
		{"number with spaces", func(d *directory.Document) { d.Users[3].Numbers = []string{"+1 555 000 0004"} }, "users[3] (dot)", "is not an E.164 number"},
		{"shortest and longest numbers", func(d *directory.Document) { d.Users[3].Numbers = []string{"+1555000", "+123456789012345"} }, "", ""},
		{"number listed twice", func(d *directory.Document) { d.Users[3].Numbers = []string{"+15550000004", "+15550000004"} }, "users[3] (dot)", "number +15550000004 is listed twice"},
		{"number of another user", func(d *directory.Document) { d.Users[3].Numbers = []string{"+15550000001"} }, "users[3] (dot)", "number +15550000001 is already used by users[0] (amy)"},
		{"department number of a user", func(d *directory.Document) { d.Departments[0].Numbers = []string{"+15550000001"} }, "departments[0] (desk)", "already used by users[0] (amy)"},
		{"license missing", func(d *directory.Document) { d.Users[3].License = "" }, "users[3] (dot)", "license is missing"},
		{"license unknown", func(d *directory.Document) { d.Users[3].License = "premium" }, "users[3] (dot)", `license "premium" is not one of talk, sell, contact_center`},
		{"user schedule unknown", func(d *directory.Document) { d.Users[3].Schedule = "biz" }, "users[3] (dot)", `schedule "biz" is not defined under schedules`},
		{"department schedule unknown", func(d *directory.Document) { d.Departments[0].Schedule = "night" }, "departments[0] (desk)", `schedule "night" is not defined`},
		{"schedule known", func(d *directory.Document) { d.Users[3].Schedule, d.Departments[0].Schedule = "business", "business" }, "", ""},
		{"no_answer not a SIP URI", func(d *directory.Document) { d.Users[3].NoAnswer = "vm-104@voicemail.example.test" }, "users[3] (dot)", "no_answer \"vm-104@voicemail.example.test\" is not a sip: or sips: URI"},
		{"no_answer scheme only", func(d *directory.Document) { d.Users[3].NoAnswer = "sip:" }, "users[3] (dot)", "is not a sip: or sips: URI"},
		{"closed with a space", func(d *directory.Document) { d.Departments[0].Closed = "sip:vm 200@x" }, "departments[0] (desk)", "closed \"sip:vm 200@x\" is not a sip: or sips: URI"},
		{"tel URI refused", func(d *directory.Document) { d.Users[3].Closed = "tel:+15550000000" }, "users[3] (dot)", "closed \"tel:+15550000000\""},
		{"sips and upper-case scheme", func(d *directory.Document) {
			d.Users[3].NoAnswer, d.Users[3].Closed = "sips:vm@voicemail.example.test", "SIP:vm@voicemail.example.test"
		}, "", ""},
		{"ring_timeout negative", func(d *directory.Document) { d.Users[3].RingTimeout = directory.Duration(-time.Second) }, "users[3] (dot)", "ring_timeout -1s is negative"},
		{"ring_timeout too long", func(d *directory.Document) { d.Departments[0].RingTimeout = directory.Duration(301 * time.Second) }, "departments[0] (desk)", "longer than the maximum of 5m0s"},
		{"ring_timeout at the maximum", func(d *directory.Document) { d.Users[3].RingTimeout = directory.MaxRingTimeout }, "", ""},
		{"operator unknown", func(d *directory.Document) { d.Departments[0].Operators = []string{"amy", "zed"} }, "departments[0] (desk)", `operator "zed" is not a user`},
		{"operator twice", func(d *directory.Document) { d.Departments[0].Operators = []string{"amy", "ben", "amy"} }, "departments[0] (desk)", `operator "amy" is listed twice`},
		{"no operators", func(d *directory.Document) { d.Departments[0].Operators = nil }, "", ""},
		{"one user operates two departments", func(d *directory.Document) {
			d.Departments = append(d.Departments, directory.Department{ID: "sales", Extension: "201", Operators: []string{"amy"}})
		}, "", ""},
		{"25 operators", func(d *directory.Document) { addOperators(d, 25) }, "", ""},
		{"26 operators", func(d *directory.Document) { addOperators(d, 26) }, "departments[0] (desk)", "has 26 operators; a department can have at most 25"},
	})
}

// addOperators makes department 0 have n distinct operators.
func addOperators(d *directory.Document, n int) {
	d.Departments[0].Operators = nil
	for i := range n {
		id := fmt.Sprintf("op%d", i)
		d.Users = append(d.Users, directory.User{ID: id, Extension: fmt.Sprint(300 + i), License: "talk"})
		d.Departments[0].Operators = append(d.Departments[0].Operators, id)
	}
}

func TestValidatePhones(t *testing.T) {
	phone := func(mac, model, user string) func(d *directory.Document) {
		return func(d *directory.Document) {
			d.Phones = append(d.Phones, directory.Phone{MAC: mac, Model: model, User: user})
		}
	}
	const p1 = "phones[1] (%s)"
	runRuleCases(t, []ruleCase{
		{"second phone of a user", phone("00:04:f2:00:00:02", "poly-vvx450", "amy"), "", ""},
		{"any MAC spelling and model case", phone("0004.F200.0002", "Poly-VVX450", "ben"), "", ""},
		{"mac missing", phone("", "poly-vvx450", "ben"), "phones[1]", "mac is missing"},
		{"mac invalid", phone("00:04:f2:00:00:zz", "poly-vvx450", "ben"), fmt.Sprintf(p1, "00:04:f2:00:00:zz"), "is not valid"},
		{"mac multicast", phone("01:00:5e:00:00:01", "poly-vvx450", "ben"), fmt.Sprintf(p1, "01:00:5e:00:00:01"), "multicast"},
		{"mac duplicate in another spelling", phone("001565000001", "poly-vvx450", "ben"), fmt.Sprintf(p1, "001565000001"),
			"MAC address 00:15:65:00:00:01 is already used by phones[0] (00:15:65:00:00:01)"},
		{"model missing", phone("00:04:f2:00:00:02", "", "ben"), fmt.Sprintf(p1, "00:04:f2:00:00:02"), "model is missing"},
		{"model unknown for a known vendor", phone("00:04:f2:00:00:02", "poly-vvx999", "ben"), fmt.Sprintf(p1, "00:04:f2:00:00:02"),
			`unknown model "poly-vvx999"; known poly models: poly-edge-e100,`},
		{"vendor unknown", phone("00:04:f2:00:00:02", "acme-1", "ben"), fmt.Sprintf(p1, "00:04:f2:00:00:02"),
			"with vendor one of cisco, fanvil, grandstream, poly, snom, yealink"},
		{"user missing", phone("00:04:f2:00:00:02", "poly-vvx450", ""), fmt.Sprintf(p1, "00:04:f2:00:00:02"), "user is missing"},
		{"user unknown", phone("00:04:f2:00:00:02", "poly-vvx450", "zed"), fmt.Sprintf(p1, "00:04:f2:00:00:02"), `user "zed" does not exist`},
	})
}

func TestValidatePairings(t *testing.T) {
	pair := func(exec, asst, state string, perms ...string) func(d *directory.Document) {
		return func(d *directory.Document) {
			d.Pairings = append(d.Pairings, directory.Pairing{Executive: exec, Assistant: asst, State: state, Permissions: perms})
		}
	}
	runRuleCases(t, []ruleCase{
		{"second assistant", pair("amy", "dot", "active"), "", ""},
		{"pending pairing", pair("dot", "amy", "pending"), "", ""},
		{"chain is allowed", pair("ben", "dot", "active"), "", ""},
		{"all permissions on pro", pair("amy", "dot", "active", "voicemail", "transcripts", "recordings"), "", ""},
		{"executive missing", pair("", "dot", "active"), "pairings[1] (executive missing, assistant dot)", "executive is missing"},
		{"executive unknown", pair("zed", "dot", "active"), "pairings[1] (executive zed, assistant dot)", `executive "zed" is not a user`},
		{"assistant unknown", pair("amy", "zed", "active"), "pairings[1] (executive amy, assistant zed)", `assistant "zed" is not a user`},
		{"state missing", pair("amy", "dot", ""), "pairings[1] (executive amy, assistant dot)", "state is missing"},
		{"state unknown", pair("amy", "dot", "approved"), "pairings[1] (executive amy, assistant dot)", `state "approved" is not one of active, pending`},
		{"self-pairing", pair("dot", "dot", "active"), "pairings[1] (executive dot, assistant dot)", "cannot be their own assistant"},
		{"duplicate pairing", pair("amy", "ben", "pending"), "pairings[1] (executive amy, assistant ben)",
			"duplicate of pairings[0] (executive amy, assistant ben)"},
		{"reciprocal pairing", pair("ben", "amy", "active"), "pairings[1] (executive ben, assistant amy)",
			"reciprocal of pairings[0] (executive amy, assistant ben)"},
		{"reciprocal pending pairing", pair("ben", "amy", "pending"), "pairings[1] (executive ben, assistant amy)", "reciprocal of pairings[0]"},
		{"contact center executive", pair("cal", "dot", "active"), "pairings[1] (executive cal, assistant dot)",
			"executive cal has a contact_center license"},
		{"contact center assistant", pair("dot", "cal", "pending"), "pairings[1] (executive dot, assistant cal)",
			"assistant cal has a contact_center license"},
		{"permission unknown", pair("amy", "dot", "active", "calendar"), "pairings[1] (executive amy, assistant dot)",
			`permission "calendar" is not one of voicemail, transcripts, recordings`},
		{"permission twice", pair("amy", "dot", "active", "voicemail", "voicemail"), "pairings[1] (executive amy, assistant dot)",
			`permission "voicemail" is listed twice`},
		{"permissions on standard plan", func(d *directory.Document) {
			d.Plan = "standard"
			pair("amy", "dot", "active", "voicemail")(d)
		}, "pairings[1] (executive amy, assistant dot)", "permissions need the pro or enterprise plan"},
		{"no permissions on standard plan", func(d *directory.Document) { d.Plan = "standard" }, "", ""},
		{"permissions on enterprise plan", func(d *directory.Document) {
			d.Plan = "enterprise"
			pair("amy", "dot", "active", "recordings")(d)
		}, "", ""},
	})
}

func TestValidateSchedules(t *testing.T) {
	tests := []struct {
		name  string
		sched string // YAML mapping of the schedule "s"
		want  string // substring of the only problem; "" = valid
	}{
		{"weekdays", `{mon-fri: ["09:00-17:00"]}`, ""},
		{"wrapping day range", `{fri-mon: ["09:00-17:00"]}`, ""},
		{"whole week", `{mon-sun: ["00:00-24:00"]}`, ""},
		{"several ranges and closed dates", `{mon: ["08:00-12:00", "13:00-17:00"], closed_dates: [2026-12-25, "2027-01-01"]}`, ""},
		{"overlapping keys", `{mon-fri: ["09:00-17:00"], wed: ["18:00-20:00"]}`, ""},
		{"unknown day", `{monday: ["09:00-17:00"]}`, `"monday" is not a day or day range`},
		{"upper-case day", `{Mon: ["09:00-17:00"]}`, `"Mon" is not a day or day range`},
		{"bad day range", `{mon-xyz: ["09:00-17:00"]}`, `"mon-xyz" is not a day or day range`},
		{"one-day range", `{mon-mon: ["09:00-17:00"]}`, `day range "mon-mon" starts and ends on the same day`},
		{"range ends before start", `{mon: ["17:00-09:00"]}`, `time range "17:00-09:00" ends before it starts`},
		{"empty range", `{mon: ["09:00-09:00"]}`, `time range "09:00-09:00" ends before it starts`},
		{"24:00 as start", `{mon: ["24:00-24:00"]}`, `"24:00-24:00" is not a time range`},
		{"bad minutes", `{mon: ["09:60-17:00"]}`, `"09:60-17:00" is not a time range`},
		{"single digit hour", `{mon: ["9:00-17:00"]}`, `"9:00-17:00" is not a time range`},
		{"no dash", `{mon: ["09:00"]}`, `"09:00" is not a time range`},
		{"not a list", `{mon: "09:00-17:00"}`, `mon (line 7) must be a list`},
		{"bad date", `{mon: ["09:00-17:00"], closed_dates: ["2026-02-30"]}`, `closed_dates: "2026-02-30" is not a date written YYYY-MM-DD`},
		{"empty", `{}`, "has no opening hours on any day"},
		{"only closed dates", `{closed_dates: ["2026-12-25"]}`, "has no opening hours on any day"},
		{"null", `~`, "has no opening hours on any day"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			doc := "plan: pro\ntimezone: UTC\nusers:\n  - {id: amy, extension: \"101\", license: talk, schedule: s}\n" +
				"schedules:\n  ok: {mon: [\"09:00-10:00\"]}\n  s: " + tc.sched + "\n"
			_, err := directory.Parse([]byte(doc))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("want valid, got:\n%v", err)
				}
				return
			}
			probs := problems(t, err)
			if len(probs) != 1 || probs[0].Entries[0] != "schedules.s" || !strings.Contains(probs[0].Msg, tc.want) {
				t.Fatalf("want one problem schedules.s: ...%s..., got:\n%s", tc.want, list(probs))
			}
		})
	}
}

func problems(t *testing.T, err error) []directory.Problem {
	t.Helper()
	ve, ok := err.(*directory.ValidationError)
	if !ok {
		t.Fatalf("want *directory.ValidationError, got %T: %v", err, err)
	}
	return ve.Problems
}

func TestValidateReportsAllProblemsInOrder(t *testing.T) {
	doc := baseDoc(t)
	doc.Plan = "standard"
	doc.Users[3].Extension = "101"
	doc.Departments[0].Operators = append(doc.Departments[0].Operators, "zed")
	doc.Phones[0].Model = "yealink-t99"
	doc.Pairings = append(doc.Pairings,
		directory.Pairing{Executive: "ben", Assistant: "amy", State: "pending", Permissions: []string{"voicemail"}},
		directory.Pairing{Executive: "cal", Assistant: "amy", State: "active"})
	want := []string{
		"users[3] (dot): extension 101 is already used by users[0] (amy)",
		`departments[0] (desk): operator "zed" is not a user`,
		`phones[0] (00:15:65:00:00:01): unknown model "yealink-t99"; known yealink models: ` + strings.Join(directory.Models("yealink"), ", "),
		"pairings[1] (executive ben, assistant amy): reciprocal of pairings[0] (executive amy, assistant ben): two users cannot be each other's assistant",
		"pairings[1] (executive ben, assistant amy): permissions need the pro or enterprise plan (this office's plan is standard)",
		"pairings[2] (executive cal, assistant amy): executive cal has a contact_center license; contact center users cannot be in pairings",
	}
	for run := range 3 { // the order must not depend on map iteration
		probs := directory.Validate(doc)
		var got []string
		for _, p := range probs {
			got = append(got, p.String())
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d: got\n%s\nwant\n%s", run, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	probs := directory.Validate(doc)
	if e := probs[3].Entries; len(e) != 2 || e[1] != "pairings[0] (executive amy, assistant ben)" {
		t.Errorf("reciprocal problem entries = %q, want both pairings", e)
	}
	err := &directory.ValidationError{Problems: probs}
	if got := strings.Count(err.Error(), "\n"); got != len(want)-1 {
		t.Errorf("Error() has %d newlines, want one problem a line:\n%v", got, err)
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	doc := baseDoc(t)
	doc.Phones[0].MAC = "00-15-65-00-00-01"
	doc.Phones[0].Model = "Yealink-T54W"
	before := baseDoc(t)
	before.Phones[0] = doc.Phones[0]
	if probs := directory.Validate(doc); len(probs) != 0 {
		t.Fatalf("unnormalised spellings must validate, got:\n%s", list(probs))
	}
	if !reflect.DeepEqual(doc, before) {
		t.Errorf("Validate modified the document")
	}
}
