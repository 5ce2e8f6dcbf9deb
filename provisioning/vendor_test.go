package provisioning

import (
	"strconv"
	"strings"
	"testing"

	"deskgate/daemon/directory"
)

// Shared call appearances only on the vendors whose documents say the
// phone runs call-info + line-seize; everywhere else the operator's
// department lines are private, with a BLF key on the line's extension.
func TestSharedLinesPerVendor(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	tests := []struct {
		vendor string
		sca    bool
		shared string // what the department account's file says when it is SCA …
		notSCA string // … and when it is private
		blf    string // the BLF key on the department line (private lines only)
	}{
		{"yealink", true, "account.2.shared_line = 1", "", ""},
		{"poly", true, `reg.2.type="shared"`, "", ""},
		{"grandstream", true, "<P1365>1</P1365>", "", ""},
		{"snom", false, "", `<user_shared_line idx="2" perm="">off</user_shared_line>`, "blf &lt;sip:2000@hq.example.test&gt;"},
		{"cisco", false, "", "<Share_Ext_2_>private</Share_Ext_2_>", "fnc=blf+sd+cp;sub=2000@$PROXY;ext=2000@$PROXY;nme=Support"},
		{"fanvil", false, "", "<EnableSCA>0</EnableSCA>", "<Value>2000@1/ba</Value>"},
	}
	for _, tt := range tests {
		t.Run(tt.vendor, func(t *testing.T) {
			p := phoneOf(t, snap, "olive", tt.vendor)
			opts, _ := layoutOptionsFor(p.Model, "d")
			if opts.SCA != tt.sca {
				t.Fatalf("%s: SCA %v, want %v", p.Model, opts.SCA, tt.sca)
			}
			body := get(s.Handler(), phonePath(p), "").Body.String()
			for _, want := range []string{tt.shared, tt.notSCA, tt.blf} {
				if want != "" && !strings.Contains(body, want) {
					t.Errorf("%s file lacks %q:\n%s", p.Model, want, body)
				}
			}
			lay, _ := Layout(snap, p.MAC, opts)
			blfOnLine := false
			for _, k := range lay.Keys {
				if k.Type == KeyBLF && k.Extension == "2000" {
					blfOnLine = true
				}
			}
			if blfOnLine == tt.sca {
				t.Errorf("%s: BLF key on the department line = %v, want %v", p.Model, blfOnLine, !tt.sca)
			}
		})
	}
}

// Every vendor's phone file tells the phone to keep fetching from us, and
// none does when there is no base URL.
func TestProvisioningURLEveryVendor(t *testing.T) {
	snap := goldenOffice(t)
	want := map[string]string{
		"yealink":     "static.auto_provision.server.url = http://192.0.2.10:8080/",
		"poly":        `device.prov.serverName="192.0.2.10:8080/"`,
		"grandstream": "<P237>192.0.2.10:8080</P237>",
		"snom":        `<setting_server perm="RW">http://192.0.2.10:8080/</setting_server>`,
		"cisco":       "<Profile_Rule_B>http://192.0.2.10:8080/$MA.xml</Profile_Rule_B>",
		"fanvil":      "<FlashServerIP>http://192.0.2.10:8080</FlashServerIP>",
	}
	with, _ := newTestServer(t, snap, nil)
	without, _ := newTestServer(t, snap, func(o *Options) { o.BaseURL = "" })
	for vendor, line := range want {
		p := phoneOf(t, snap, "pat", vendor)
		if body := get(with.Handler(), phonePath(p), "").Body.String(); !strings.Contains(body, line) {
			t.Errorf("%s: file lacks %q", vendor, line)
		}
		if body := get(without.Handler(), phonePath(p), "").Body.String(); strings.Contains(body, "192.0.2.10:8080") {
			t.Errorf("%s: names a provisioning server without a base URL", vendor)
		}
	}
	// HTTPS is written as such where the vendor has a protocol switch.
	https, _ := newTestServer(t, snap, func(o *Options) { o.BaseURL = "https://prov.example.test/" })
	for vendor, line := range map[string]string{
		"poly":        `device.prov.serverType="3"`,
		"grandstream": "<P212>2</P212>",
		"fanvil":      "<FlashProtocol>5</FlashProtocol>",
	} {
		if body := get(https.Handler(), phonePath(phoneOf(t, snap, "pat", vendor)), "").Body.String(); !strings.Contains(body, line) {
			t.Errorf("%s over https: file lacks %q", vendor, line)
		}
	}
}

// Yealink: as-feature-event (DND sync) only on the user's own account.
func TestYealinkFeatureKeySyncPerAccount(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	for _, user := range []string{"olive", "ann"} {
		body := get(s.Handler(), phonePath(phoneOf(t, snap, user, "yealink")), "").Body.String()
		for _, want := range []string{
			"features.feature_key_sync.enable = 1",
			"account.1.feature_key_sync.enable = 1", "account.1.dnd.feature_key_sync.enable = 1",
			"account.2.feature_key_sync.enable = 0", "account.2.dnd.feature_key_sync.enable = 0",
			"account.3.feature_key_sync.enable = 0", "account.3.dnd.feature_key_sync.enable = 0",
		} {
			if !strings.Contains(body, want+"\n") {
				t.Errorf("%s: lacks %q", user, want)
			}
		}
	}
}

// Poly: a phone with a shared line cannot sync DND, so it gets no DND of
// its own; a phone without one keeps the synchronised DND key.
func TestPolyDNDWithSharedLines(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	tests := []struct {
		user string
		want []string
	}{
		{"pat", []string{`voIpProt.SIP.serverFeatureControl.dnd="1"`, `feature.doNotDisturb.enable="1"`, `reg.1.serverFeatureControl.dnd="1"`}},
		{"olive", []string{`voIpProt.SIP.serverFeatureControl.dnd="0"`, `feature.doNotDisturb.enable="0"`, `reg.1.serverFeatureControl.dnd="0"`, `reg.2.type="shared"`}},
		{"ann", []string{`voIpProt.SIP.serverFeatureControl.dnd="0"`, `feature.doNotDisturb.enable="0"`, `reg.2.type="shared"`}},
	}
	for _, tt := range tests {
		body := get(s.Handler(), phonePath(phoneOf(t, snap, tt.user, "poly")), "").Body.String()
		for _, want := range tt.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s: lacks %s", tt.user, want)
			}
		}
	}
}

// Fanvil keys go where each model reads them: X6U 5 side keys then DSS
// pages of 12, X4U 3 side keys then pages of 6, X3U SidekeyConfig1.
func TestFanvilKeyPlacement(t *testing.T) {
	keys := make([]Key, 0, 30)
	for i := 1; i <= 30; i++ {
		ext := strconv.Itoa(3000 + i)
		keys = append(keys, Key{Type: KeyBLF, Account: 1, Extension: ext, Label: "k" + strconv.Itoa(i)})
	}
	render := func(model string, n int) string {
		in := renderInput{Layout: PhoneLayout{MAC: "0c:38:3e:00:00:09", Model: model, Keys: keys[:n]},
			SIP: sipServer{Host: "192.0.2.10", Port: 5060, Transport: "udp"}}
		f, ok := fanvil{}.phoneFile(fileRequest{Kind: kindMACCfg}, in)
		if !ok {
			t.Fatal("not rendered")
		}
		return string(f.body)
	}
	// section returns the XML between <open …> and its close tag.
	section := func(body, open, close string) string {
		_, rest, ok := strings.Cut(body, open)
		if !ok {
			return ""
		}
		in, _, _ := strings.Cut(rest, close)
		return in
	}
	x6u := render("fanvil-x6u", 30)
	side := section(x6u, `<dssSide index="1">`, "</dssSide>")
	if strings.Count(side, "<Fkey ") != 5 || !strings.Contains(side, "3005@1/ba") || strings.Contains(side, "3006@1/ba") {
		t.Errorf("x6u side keys:\n%s", side)
	}
	p1 := section(x6u, `<internal index="1">`, "</internal>")
	if strings.Count(p1, "<Fkey ") != 12 || !strings.Contains(p1, "<Fkey index=\"1\">\n        <Type>1</Type>\n        <Value>3006@1/ba") {
		t.Errorf("x6u page 1:\n%s", p1)
	}
	p3 := section(x6u, `<internal index="3">`, "</internal>")
	if strings.Count(p3, "<Fkey ") != 1 || !strings.Contains(p3, "3030@1/ba") {
		t.Errorf("x6u page 3:\n%s", p3)
	}
	if !strings.Contains(x6u, "<FuncKeyPageNum>3</FuncKeyPageNum>") {
		t.Error("x6u: FuncKeyPageNum not 3")
	}
	x4u := render("fanvil-x4u", 12)
	if side := section(x4u, `<dssSide index="1">`, "</dssSide>"); strings.Count(side, "<Fkey ") != 3 {
		t.Errorf("x4u side keys:\n%s", side)
	}
	if p2 := section(x4u, `<internal index="2">`, "</internal>"); strings.Count(p2, "<Fkey ") != 3 || !strings.Contains(p2, "3012@1/ba") {
		t.Errorf("x4u page 2:\n%s", p2)
	}
	x3u := render("fanvil-x3u", 6)
	if strings.Contains(x3u, "dssSide") || strings.Count(x3u, "<SidekeyConfig1 index=") != 6 {
		t.Errorf("x3u keys:\n%s", x3u)
	}
	// The layout gives each model no more keys than it has.
	for _, m := range directory.Models("fanvil") {
		o := fanvil{}.layoutOptions(m)
		if o.Keys != directory.LineKeys(m) || o.Accounts < 1 || o.SCA {
			t.Errorf("%s: options %+v", m, o)
		}
	}
	if o := (fanvil{}).layoutOptions("fanvil-x6u"); o.Keys != 65 || o.Accounts != 20 {
		t.Errorf("x6u: %d keys, %d lines; want 65 keys (5 side + 5 pages of 12), 20 lines", o.Keys, o.Accounts)
	}
}
