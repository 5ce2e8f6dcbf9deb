package provisioning

import (
	"encoding/xml"
	"testing"
)

// gsValues parses a rendered cfg<mac>.xml into P-value → text.
func gsValues(t *testing.T, body []byte) map[string]string {
	t.Helper()
	var doc struct {
		Config struct {
			Items []struct {
				XMLName xml.Name
				Value   string `xml:",chardata"`
			} `xml:",any"`
		} `xml:"config"`
	}
	if err := xml.Unmarshal(body, &doc); err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	out := make(map[string]string, len(doc.Config.Items))
	for _, it := range doc.Config.Items {
		if _, dup := out[it.XMLName.Local]; dup {
			t.Errorf("%s written twice", it.XMLName.Local)
		}
		out[it.XMLName.Local] = it.Value
	}
	return out
}

// Every Grandstream model the directory knows has a model entry whose
// fixed VPKs cover all its keys and whose accounts all have P-values.
func TestGrandstreamModels(t *testing.T) {
	for _, model := range directoryModels("grandstream") {
		t.Run(model, func(t *testing.T) {
			m := gsModelOf(modelName(model))
			if m.accounts < 1 || m.fixed < 1 {
				t.Fatalf("no model entry: %+v", m)
			}
			if o := (grandstream{}).layoutOptions(model); o.Keys != lineKeysOf(model) {
				t.Errorf("keys %d, directory says %d: fixed VPKs %d do not cover them", o.Keys, lineKeysOf(model), m.fixed)
			}
			for i := 1; i <= m.accounts; i++ {
				if _, ok := gsAccountP(i); !ok {
					t.Errorf("account %d has no P-values", i)
				}
			}
		})
	}
	if m := gsModelOf("gxp9999"); m.fixed != 0 || m.accounts != 1 {
		t.Errorf("unknown model %+v, want 1 account and no keys", m)
	}
}

func TestGrandstreamVPK(t *testing.T) {
	tests := []struct {
		name                       string
		k                          int
		mode, account, desc, value int
	}{
		{"first", 1, 1363, 1364, 1465, 1466},
		{"sixth, last of the P1363 block", 6, 1373, 1374, 1475, 1476},
		{"seventh, first of the P23800 block", 7, 23800, 23801, 23802, 23803},
		{"twelfth", 12, 23820, 23821, 23822, 23823},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, a, d, v := gsVPK(tt.k)
			if m != tt.mode || a != tt.account || d != tt.desc || v != tt.value {
				t.Errorf("gsVPK(%d) = %d %d %d %d, want %d %d %d %d", tt.k, m, a, d, v, tt.mode, tt.account, tt.desc, tt.value)
			}
		})
	}
}

// The two families write different mode codes for the same keys (a
// department line is a BroadWorks shared line on the GXP, a private
// "Default" line on the GRP), accounts 3+ use their own P-value blocks,
// every account is in BroadSoft mode, and unused keys and accounts are
// cleared.
func TestGrandstreamFamilies(t *testing.T) {
	tests := []struct {
		model  string
		shared bool     // department lines are SCA
		modes  []string // per key, in order
		want   map[string]string
	}{
		{"grandstream-gxp2170", true, []string{"0", "1", "1", "32", "11", "16"}, map[string]string{
			"P501": "1", "P504": "2100", "P548": "0", "P601": "0", "P1801": "0",
			"P1368": "2", "P1474": "1104", "P23800": "-1", "P23820": "-1",
			"P198": "102", "P424": "102", "P524": "102", "P2325": "1", "P2425": "0",
		}},
		{"grandstream-grp2616", false, []string{"31", "31", "31", "22", "1", "6"}, map[string]string{
			"P501": "1", "P504": "2100", "P601": "0", "P1801": "0", "P1474": "1104", "P198": "102",
		}},
		{"grandstream-grp2613", false, []string{"31", "31", "31", "22", "1", "6"}, map[string]string{
			"P501": "1", "P515": "0", "P2525": "0",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			if got := (grandstream{}).layoutOptions(tt.model).SCA; got != tt.shared {
				t.Fatalf("layoutOptions SCA = %v, want %v", got, tt.shared)
			}
			accounts := []Account{
				{Index: 1, Type: KeyLine, Extension: "1102", AuthUser: "1102", Label: "Olive", MWI: true},
				{Index: 2, Type: KeySharedLine, Extension: "2000", AuthUser: "1102", Label: "Support", Shared: tt.shared},
				{Index: 3, Type: KeySharedLine, Extension: "2100", AuthUser: "1102", Label: "Sales", Shared: tt.shared},
			}
			keys := []Key{
				{Type: KeyLine, Account: 1}, {Type: KeySharedLine, Account: 2, Shared: tt.shared},
				{Type: KeySharedLine, Account: 3, Shared: tt.shared},
				{Type: KeyDND, Account: 1}, {Type: KeyBLF, Account: 1, Extension: "1104"}, {Type: KeyVoicemail, Account: 1},
			}
			in := renderInput{Layout: PhoneLayout{MAC: "c0:74:ad:00:00:09", Model: tt.model, Accounts: accounts, Keys: keys},
				Password: "pw", SIP: sipServer{Host: "192.0.2.10", Port: 5060, Transport: "udp"}, VoicemailNumber: "*97"}
			f, ok := grandstream{}.phoneFile(fileRequest{Kind: kindGrandstreamCfg}, in)
			if !ok {
				t.Fatal("not rendered")
			}
			got := gsValues(t, f.body)
			for i, mode := range tt.modes {
				pm, _, _, _ := gsVPK(i + 1)
				tt.want[p(pm)] = mode
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			opts := grandstream{}.layoutOptions(tt.model)
			pm, _, _, _ := gsVPK(opts.Keys + 1)
			if _, ok := got[p(pm)]; ok {
				t.Errorf("%s written: the model has %d keys", p(pm), opts.Keys)
			}
			if ps, _ := gsAccountP(opts.Accounts + 1); ps.active != 0 {
				if _, ok := got[p(ps.active)]; ok {
					t.Errorf("%s written: the model has %d accounts", p(ps.active), opts.Accounts)
				}
			}
		})
	}
}
