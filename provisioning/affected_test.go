package provisioning

import (
	"slices"
	"strings"
	"testing"

	"deskgate/daemon/directory/directorytest"
)

const affectedBase = `
	plan: pro
	timezone: America/New_York
	users:
	  - {id: pat, name: Pat Plain, extension: "1101", license: talk, ring_timeout: 20s}
	  - {id: olive, name: Olive Operator, extension: "1102", license: talk}
	  - {id: ann, name: Ann Assistant, extension: "1103", license: talk}
	  - {id: eve, name: Eve Exec, extension: "1104", license: talk}
	  - {id: bob, name: Bob, extension: "1105", license: talk}
	departments:
	  - {id: support, name: Support, extension: "2000", operators: [olive], ring_timeout: 30s}
	pairings:
	  - {executive: eve, assistant: ann, state: active}
	phones:
	  - {mac: "00:15:65:00:00:01", model: yealink-t54w, user: pat}
	  - {mac: "00:15:65:00:00:02", model: yealink-t54w, user: olive}
	  - {mac: "00:04:f2:00:00:02", model: poly-vvx450, user: olive}
	  - {mac: "00:15:65:00:00:03", model: yealink-t54w, user: ann}
	  - {mac: "00:15:65:00:00:04", model: yealink-t54w, user: eve}
	  - {mac: "00:15:65:00:00:05", model: yealink-t54w, user: bob}
`

func TestAffected(t *testing.T) {
	base := directorytest.MustParse(t, affectedBase)
	tests := []struct {
		name     string
		old, new string // replace old by new in the base document ("" = unchanged)
		want     []string
	}{
		{"nothing changed", "", "", nil},
		{"unrelated: ring timeouts", "ring_timeout: 30s", "ring_timeout: 45s", nil},
		{"unrelated: a user's ring timeout", "ring_timeout: 20s", "ring_timeout: 25s", nil},
		{"operator added to a department: that operator's phone",
			"operators: [olive]", "operators: [olive, bob]", []string{"00:15:65:00:00:05"}},
		{"operator removed: both of her phones",
			"operators: [olive]", "operators: [bob]", []string{"00:04:f2:00:00:02", "00:15:65:00:00:02", "00:15:65:00:00:05"}},
		{"department renamed: its operators' phones",
			"name: Support", "name: Helpdesk", []string{"00:04:f2:00:00:02", "00:15:65:00:00:02"}},
		{"pairing added: the assistant's phone",
			"  - {executive: eve, assistant: ann, state: active}",
			"  - {executive: eve, assistant: ann, state: active}\n\t  - {executive: pat, assistant: bob, state: active}",
			[]string{"00:15:65:00:00:05"}},
		{"pending pairing added: nobody",
			"  - {executive: eve, assistant: ann, state: active}",
			"  - {executive: eve, assistant: ann, state: active}\n\t  - {executive: pat, assistant: bob, state: pending}",
			nil},
		{"voicemail permission granted: the assistant's phone",
			"state: active}", "state: active, permissions: [voicemail]}", []string{"00:15:65:00:00:03"}},
		{"executive renamed: her phone and her assistant's",
			"name: Eve Exec", "name: Eve Boss", []string{"00:15:65:00:00:03", "00:15:65:00:00:04"}},
		{"new phone included",
			"  - {mac: \"00:15:65:00:00:05\"", "  - {mac: \"00:15:65:00:00:06\", model: yealink-t46u, user: bob}\n\t  - {mac: \"00:15:65:00:00:05\"",
			[]string{"00:15:65:00:00:06"}},
		{"removed phone excluded",
			"  - {mac: \"00:15:65:00:00:05\", model: yealink-t54w, user: bob}\n", "", nil},
		{"phone model changed",
			"{mac: \"00:15:65:00:00:01\", model: yealink-t54w", "{mac: \"00:15:65:00:00:01\", model: yealink-t46u",
			[]string{"00:15:65:00:00:01"}},
		{"phone given to another user",
			"{mac: \"00:15:65:00:00:01\", model: yealink-t54w, user: pat}", "{mac: \"00:15:65:00:00:01\", model: yealink-t54w, user: bob}",
			[]string{"00:15:65:00:00:01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			doc := affectedBase
			if tt.old != "" {
				if !strings.Contains(doc, tt.old) {
					t.Fatalf("base document lacks %q", tt.old)
				}
				doc = strings.Replace(doc, tt.old, tt.new, 1)
			}
			cur := directorytest.MustParse(t, doc)
			if got := Affected(base, cur); !slices.Equal(got, tt.want) {
				t.Errorf("Affected = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAffectedWithoutOldIsEveryPhone(t *testing.T) {
	cur := directorytest.MustParse(t, affectedBase)
	got := Affected(nil, cur)
	if len(got) != len(cur.Phones()) || !slices.IsSorted(got) {
		t.Errorf("Affected(nil, cur) = %v", got)
	}
	if Affected(cur, nil) != nil {
		t.Error("Affected(cur, nil) not nil")
	}
}
