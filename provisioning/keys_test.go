package provisioning

import (
	"fmt"
	"strings"
	"testing"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

const keysOffice = `
	plan: pro
	timezone: America/New_York
	users:
	  - {id: pat, name: Pat Plain, extension: "1101", license: talk}
	  - {id: olive, name: Olive Operator, extension: "1102", license: talk}
	  - {id: ann, name: Ann Assistant, extension: "1103", license: talk}
	  - {id: eve, name: Eve Exec, extension: "1104", license: talk}
	  - {id: max, extension: "1105", license: talk}
	  - {id: sol, name: Solo Operator, extension: "1106", license: talk}
	departments:
	  - {id: support, name: Support, extension: "2000", operators: [olive, sol]}
	  - {id: sales, extension: "2100", operators: [olive]}
	pairings:
	  - {executive: eve, assistant: ann, state: active, permissions: [voicemail]}
	  - {executive: max, assistant: ann, state: active}
	  - {executive: pat, assistant: ann, state: pending}
	phones:
	  - {mac: "00:15:65:00:00:01", model: yealink-t54w, user: pat}
	  - {mac: "00:15:65:00:00:02", model: yealink-t54w, user: olive}
	  - {mac: "00:15:65:00:00:03", model: yealink-t54w, user: ann}
	  - {mac: "00:15:65:00:00:06", model: yealink-t54w, user: sol}
`

// describe renders a layout as one line per account and key.
func describe(l PhoneLayout) string {
	var b strings.Builder
	for _, a := range l.Accounts {
		fmt.Fprintf(&b, "account %d %s %s as %s label=%q mwi=%v", a.Index, a.Type, a.Extension, a.AuthUser, a.Label, a.MWI)
		if a.Shared {
			b.WriteString(" sca")
		}
		b.WriteByte('\n')
	}
	for i, k := range l.Keys {
		fmt.Fprintf(&b, "key %d %s %q account=%d ext=%s", i+1, k.Type, k.Label, k.Account, k.Extension)
		if k.URI != "" {
			fmt.Fprintf(&b, " uri=%s", k.URI)
		}
		if k.Pickup {
			b.WriteString(" pickup")
		}
		b.WriteByte('\n')
	}
	for _, w := range l.Warnings {
		b.WriteString("warning: " + w + "\n")
	}
	return b.String()
}

func TestLayout(t *testing.T) {
	snap := directorytest.MustParse(t, keysOffice)
	full := LayoutOptions{Domain: "hq.test", Keys: 27, Accounts: 16, DNDKey: true, VoicemailKey: true, SCA: true}
	tests := []struct {
		name string
		mac  string
		opts LayoutOptions
		want string
	}{
		{
			name: "plain user",
			mac:  "00:15:65:00:00:01",
			opts: full,
			want: `account 1 line 1101 as 1101 label="Pat Plain" mwi=true
key 1 line "Pat Plain" account=1 ext=1101
key 2 dnd "DND" account=1 ext=1101
key 3 voicemail "Voicemail" account=1 ext=1101
`,
		},
		{
			name: "operator of two departments, one without a name",
			mac:  "00:15:65:00:00:02",
			opts: full,
			want: `account 1 line 1102 as 1102 label="Olive Operator" mwi=true
account 2 shared-line 2000 as 1102 label="Support" mwi=false sca
account 3 shared-line 2100 as 1102 label="sales" mwi=false sca
key 1 line "Olive Operator" account=1 ext=1102
key 2 shared-line "Support" account=2 ext=2000
key 3 shared-line "sales" account=3 ext=2100
key 4 dnd "DND" account=1 ext=1102
key 5 away "Away Support" account=1 ext=away-2000 uri=sip:away-2000@hq.test
key 6 away "Away sales" account=1 ext=away-2100 uri=sip:away-2100@hq.test
key 7 away "Away all" account=1 ext=away uri=sip:away@hq.test
key 8 voicemail "Voicemail" account=1 ext=1102
`,
		},
		{
			name: "operator of one department gets no away-all key",
			mac:  "00:15:65:00:00:06",
			opts: LayoutOptions{Domain: "hq.test", Keys: 27, Accounts: 16, SCA: true},
			want: `account 1 line 1106 as 1106 label="Solo Operator" mwi=true
account 2 shared-line 2000 as 1106 label="Support" mwi=false sca
key 1 line "Solo Operator" account=1 ext=1106
key 2 shared-line "Support" account=2 ext=2000
key 3 away "Away Support" account=1 ext=away-2000 uri=sip:away-2000@hq.test
`,
		},
		{
			name: "assistant: voicemail only where the pairing allows it, pending pairing ignored",
			mac:  "00:15:65:00:00:03",
			opts: full,
			want: `account 1 line 1103 as 1103 label="Ann Assistant" mwi=true
account 2 executive-line 1104 as 1103 label="Eve Exec" mwi=true sca
account 3 executive-line 1105 as 1103 label="max" mwi=false sca
key 1 line "Ann Assistant" account=1 ext=1103
key 2 executive-line "Eve Exec" account=2 ext=1104
key 3 executive-line "max" account=3 ext=1105
key 4 dnd "DND" account=1 ext=1103
key 5 voicemail "Voicemail" account=1 ext=1103
key 6 voicemail "VM Eve Exec" account=2 ext=1104
`,
		},
		{
			name: "assistant on a two-account model: second executive becomes a BLF with pickup",
			mac:  "00:15:65:00:00:03",
			opts: LayoutOptions{Domain: "hq.test", Keys: 10, Accounts: 2, VoicemailKey: true, SCA: true},
			want: `account 1 line 1103 as 1103 label="Ann Assistant" mwi=true
account 2 executive-line 1104 as 1103 label="Eve Exec" mwi=true sca
key 1 line "Ann Assistant" account=1 ext=1103
key 2 executive-line "Eve Exec" account=2 ext=1104
key 3 blf "max" account=1 ext=1105 uri=sip:1105@hq.test pickup
key 4 voicemail "Voicemail" account=1 ext=1103
key 5 voicemail "VM Eve Exec" account=2 ext=1104
warning: executive line "max" (1105) shown as a BLF key: yealink-t54w supports 2 SIP accounts
`,
		},
		{
			name: "too few keys: lines kept first, the rest reported, dropped lines lose their account",
			mac:  "00:15:65:00:00:02",
			opts: LayoutOptions{Domain: "hq.test", Keys: 2, Accounts: 16, DNDKey: true, SCA: true},
			want: `account 1 line 1102 as 1102 label="Olive Operator" mwi=true
account 2 shared-line 2000 as 1102 label="Support" mwi=false sca
key 1 line "Olive Operator" account=1 ext=1102
key 2 shared-line "Support" account=2 ext=2000
warning: shared-line key "sales" (2100) does not fit: yealink-t54w has 2 line keys
warning: dnd key "DND" (1102) does not fit: yealink-t54w has 2 line keys
warning: away key "Away Support" (away-2000) does not fit: yealink-t54w has 2 line keys
warning: away key "Away sales" (away-2100) does not fit: yealink-t54w has 2 line keys
warning: away key "Away all" (away) does not fit: yealink-t54w has 2 line keys
`,
		},
		{
			name: "model without SCA: department and executive lines are private, each with a BLF key",
			mac:  "00:15:65:00:00:03",
			opts: LayoutOptions{Domain: "hq.test", Keys: 27, Accounts: 16},
			want: `account 1 line 1103 as 1103 label="Ann Assistant" mwi=true
account 2 executive-line 1104 as 1103 label="Eve Exec" mwi=true
account 3 executive-line 1105 as 1103 label="max" mwi=false
key 1 line "Ann Assistant" account=1 ext=1103
key 2 executive-line "Eve Exec" account=2 ext=1104
key 3 blf "Eve Exec" account=1 ext=1104 uri=sip:1104@hq.test pickup
key 4 executive-line "max" account=3 ext=1105
key 5 blf "max" account=1 ext=1105 uri=sip:1105@hq.test pickup
`,
		},
		{
			name: "model without SCA, too few keys: the line's BLF key is reported",
			mac:  "00:15:65:00:00:06",
			opts: LayoutOptions{Domain: "hq.test", Keys: 2, Accounts: 4},
			want: `account 1 line 1106 as 1106 label="Solo Operator" mwi=true
account 2 shared-line 2000 as 1106 label="Support" mwi=false
key 1 line "Solo Operator" account=1 ext=1106
key 2 shared-line "Support" account=2 ext=2000
warning: blf key "Support" (2000) does not fit: yealink-t54w has 2 line keys
warning: away key "Away Support" (away-2000) does not fit: yealink-t54w has 2 line keys
`,
		},
		{
			name: "no keys at all: the account stays",
			mac:  "00:15:65:00:00:01",
			opts: LayoutOptions{Keys: 0, Accounts: 1},
			want: `account 1 line 1101 as 1101 label="Pat Plain" mwi=true
warning: line key "Pat Plain" (1101) does not fit: yealink-t54w has 0 line keys
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := Layout(snap, tt.mac, tt.opts)
			if !ok {
				t.Fatal("phone not found")
			}
			if got := describe(l); got != tt.want {
				t.Errorf("layout:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestLayoutUnknownMAC(t *testing.T) {
	snap := directorytest.MustParse(t, keysOffice)
	for _, mac := range []string{"00:15:65:00:00:99", "not a mac", ""} {
		if _, ok := Layout(snap, mac, LayoutOptions{Keys: 10, Accounts: 4}); ok {
			t.Errorf("Layout(%q) ok, want not found", mac)
		}
	}
}

// Every model the directory knows has a renderer and sane options.
func TestLayoutOptionsForEveryModel(t *testing.T) {
	for _, v := range []string{"yealink", "poly", "grandstream", "snom", "cisco", "fanvil"} {
		for _, m := range directoryModels(v) {
			o, ok := layoutOptionsFor(m, "d")
			if !ok || o.Accounts < 1 || o.Keys < 0 || o.Domain != "d" {
				t.Errorf("%s: options %+v ok=%v", m, o, ok)
			}
		}
	}
}

func directoryModels(vendor string) []string { return directory.Models(vendor) }
