package provisioning

import "strconv"

// Grandstream GRP26xx/GXP21xx renderer: <gs_provision><config> with
// P-values, fetched as cfg<mac>.xml (older firmware: cfg<mac>).
//
// P-values come from Grandstream's GRP2614 configuration template as
// shipped with FusionPBX (itself the annotated Grandstream template):
// account 1 P271 active, P270 account name, P47 SIP server, P35 user ID,
// P36 authenticate ID, P34 password, P3 display name, P33 voicemail number,
// P130 transport (0 UDP, 1 TCP, 2 TLS), P99 subscribe for MWI, P2325
// feature key synchronisation, P6752 BLF call-pickup (0 auto); account 2
// P401, P417, P402, P404, P405, P406, P407, P426, P448, P415, P2425, P6753.
// Line keys: key k has mode P(1363+2(k-1)), account P(1364+2(k-1), 0-based),
// description P(1465+2(k-1)) and value P(1466+2(k-1)) — confirmed for keys
// 1–4 in two independent generators; keys 5–12 (GXP2170) extrapolate the
// stride. Modes from FusionPBX's grandstream.php: 0 Line, 1 Shared line,
// 11 BLF, 16 Voicemail.
//
// Not done: accounts 3 and up (their P-value block was not confirmed, so
// lines beyond the second become BLF keys with a warning), a DND line key
// (no line-key mode for it was confirmed; the phone's DND key is
// synchronised by P2325), and clearing keys a previous configuration set
// beyond the layout (no confirmed "none" mode; they are left as they were).
type grandstream struct{}

// gsAccount holds the P-value numbers of one account.
type gsAccount struct {
	active, name, server, user, auth, password, display, voicemail, transport, mwi, featureSync, blfPickup int
}

func gsAccountP(i int) gsAccount {
	if i == 2 {
		return gsAccount{401, 417, 402, 404, 405, 406, 407, 426, 448, 415, 2425, 6753}
	}
	return gsAccount{271, 270, 47, 35, 36, 34, 3, 33, 130, 99, 2325, 6752}
}

func (grandstream) layoutOptions(model string) LayoutOptions {
	keys := lineKeysOf(model)
	return LayoutOptions{Keys: min(keys, 12), Accounts: 2, VoicemailKey: true}
}

func (grandstream) serves(k fileKind) bool { return k == kindGrandstreamCfg }

func (grandstream) commonFile(fileRequest, commonInput) (file, bool) { return file{}, false }

func (g grandstream) phoneFile(req fileRequest, in renderInput) (file, bool) {
	if req.Kind != kindGrandstreamCfg {
		return file{}, false
	}
	lay := in.Layout
	var f xmlFile
	f.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	f.raw("<gs_provision version=\"1\">\n")
	f.elem(1, "mac", compactMAC(lay.MAC))
	f.raw("  <config version=\"1\">\n")
	for _, a := range lay.Accounts {
		g.account(&f, a, in)
	}
	if len(lay.Accounts) < 2 {
		f.elem(2, p(gsAccountP(2).active), 0)
	}
	for i, k := range lay.Keys {
		g.key(&f, i+1, k)
	}
	f.raw("  </config>\n</gs_provision>\n")
	return file{body: f.bytes(), contentType: "application/xml"}, true
}

// p is the element name of P-value n.
func p(n int) string { return "P" + strconv.Itoa(n) }

func (grandstream) account(f *xmlFile, a Account, in renderInput) {
	ps := gsAccountP(a.Index)
	f.comment("Account %d (%s): %s <%s>", a.Index, a.Type, a.Label, a.Extension)
	f.elem(2, p(ps.active), 1)
	f.elem(2, p(ps.name), a.Label)
	f.elem(2, p(ps.server), in.SIP.Host+":"+strconv.Itoa(in.SIP.Port))
	f.elem(2, p(ps.user), a.Extension)
	f.elem(2, p(ps.auth), a.AuthUser)
	f.elem(2, p(ps.password), in.Password)
	f.elem(2, p(ps.display), a.DisplayName)
	f.elem(2, p(ps.transport), transportCode(in.SIP.Transport, "0", "1", "2"))
	f.elem(2, p(ps.mwi), boolDigit(a.MWI))
	if a.MWI {
		f.elem(2, p(ps.voicemail), in.VoicemailNumber)
	}
	f.elem(2, p(ps.featureSync), boolDigit(a.Type == KeyLine))
	f.elem(2, p(ps.blfPickup), 0)
}

func (grandstream) key(f *xmlFile, i int, k Key) {
	mode, value := -1, ""
	switch k.Type {
	case KeyLine:
		mode = 0
	case KeySharedLine, KeyExecutiveLine:
		mode = 1
	case KeyBLF, KeyAway:
		mode, value = 11, k.Extension
	case KeyVoicemail:
		mode = 16
	}
	if mode < 0 {
		return
	}
	off := 2 * (i - 1)
	f.elem(2, p(1363+off), mode)
	f.elem(2, p(1364+off), k.Account-1)
	f.elem(2, p(1465+off), k.Label)
	f.elem(2, p(1466+off), value)
}
