package provisioning

import "strconv"

// Fanvil X-series renderer (firmware 2.x XML <sysConf>), fetched as
// <mac>.cfg.
//
// Element names come from FusionPBX's Fanvil X6U template (fusionpbx/
// fusionpbx resources/templates/provision/fanvil/x6u/{$mac}.cfg, "optimized
// for firmware 2.2.10 and newer"): <sip><line index="n"> with PhoneNumber,
// DisplayName, RegisterAddr, RegisterPort, RegisterUser (authentication
// user), RegisterPswd, EnableReg, Transport (0 UDP, 1 TCP, 3 TLS),
// EnableSCA, FeatureSync, MWINum; <dsskey><dssSide index="1"><Fkey
// index="k"> with Type/Value/Title, where a line key is Type 2 with Value
// "SIP<n>". BLF keys are Type 1 (memory key) with Value "<ext>@<line>/ba"
// as in the Wazo provd Fanvil plugin (wazo-platform/wazo-provd-plugins
// plugins/wazo_fanvil/common/common.py, BLF with pickup). MWINum is the
// voicemail number the line's message key dials (the same plugin's
// templates/base-new.tpl writes the line's voicemail extension there).
//
// Not done or not verified: the MWI SUBSCRIBE switch (the X6U template has
// <Subscribe>/<SubExpire> per line, but no document at hand says they are
// the message-waiting subscription), a DND key and a voicemail key (no
// confirmed DSS key type or key-event value for either; FeatureSync is set
// on the user's own line), whether models with paged keys (X6U) number all
// their keys in dssSide 1, and the number of SIP lines per model (assumed
// at least the number of keys).
type fanvil struct{}

func (fanvil) layoutOptions(model string) LayoutOptions {
	keys := lineKeysOf(model)
	return LayoutOptions{Keys: keys, Accounts: max(keys, 1)}
}

func (fanvil) serves(k fileKind) bool { return k == kindMACCfg }

func (fanvil) commonFile(fileRequest, commonInput) (file, bool) { return file{}, false }

func (fv fanvil) phoneFile(req fileRequest, in renderInput) (file, bool) {
	if req.Kind != kindMACCfg {
		return file{}, false
	}
	lay := in.Layout
	var f xmlFile
	f.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	f.raw("<sysConf>\n")
	f.elem(1, "Version", "2.0000000000")
	f.raw("  <sip>\n")
	for _, a := range lay.Accounts {
		fv.line(&f, a, in)
	}
	f.raw("  </sip>\n  <dsskey>\n    <dssSide index=\"1\">\n")
	for i, k := range lay.Keys {
		fv.key(&f, i+1, k)
	}
	f.raw("    </dssSide>\n  </dsskey>\n</sysConf>\n")
	return file{body: f.bytes(), contentType: "application/xml"}, true
}

func (fanvil) line(f *xmlFile, a Account, in renderInput) {
	f.raw(`    <line index="` + strconv.Itoa(a.Index) + "\">\n")
	f.elem(3, "PhoneNumber", a.Extension)
	f.elem(3, "DisplayName", a.DisplayName)
	f.elem(3, "RegisterAddr", in.SIP.Host)
	f.elem(3, "RegisterPort", in.SIP.Port)
	f.elem(3, "RegisterUser", a.AuthUser)
	f.elem(3, "RegisterPswd", in.Password)
	f.elem(3, "EnableReg", 1)
	f.elem(3, "Transport", transportCode(in.SIP.Transport, "0", "1", "3"))
	f.elem(3, "EnableSCA", boolDigit(a.Type != KeyLine))
	f.elem(3, "FeatureSync", boolDigit(a.Type == KeyLine))
	if a.MWI {
		f.elem(3, "MWINum", in.VoicemailNumber)
	} else {
		f.elem(3, "MWINum", "")
	}
	f.raw("    </line>\n")
}

func (fanvil) key(f *xmlFile, i int, k Key) {
	var typ int
	var value string
	switch k.Type {
	case KeyLine, KeySharedLine, KeyExecutiveLine:
		typ, value = 2, "SIP"+strconv.Itoa(k.Account)
	case KeyBLF, KeyAway:
		typ, value = 1, k.Extension+"@"+strconv.Itoa(k.Account)+"/ba"
	default:
		return
	}
	f.raw(`      <Fkey index="` + strconv.Itoa(i) + "\">\n")
	f.elem(4, "Type", typ)
	f.elem(4, "Value", value)
	f.elem(4, "Title", k.Label)
	f.raw("      </Fkey>\n")
}
