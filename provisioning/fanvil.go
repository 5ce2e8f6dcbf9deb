package provisioning

import (
	"strconv"
	"strings"
)

// Fanvil X-series renderer (firmware 2.x XML <sysConf>), fetched as
// <mac>.cfg.
//
// Element names come from FusionPBX's Fanvil X6U template (fusionpbx/
// fusionpbx resources/templates/provision/fanvil/x6u/{$mac}.cfg, "optimized
// for firmware 2.2.10 and newer"): <sip><line index="n"> with PhoneNumber,
// DisplayName, RegisterAddr, RegisterPort, RegisterUser (authentication
// user), RegisterPswd, EnableReg, Transport (0 UDP, 1 TCP, 3 TLS),
// EnableSCA, FeatureSync, MWINum; a line key is Type 2 with Value "SIP<n>".
// MWINum is the voicemail number the line's message key dials (Wazo's
// provd Fanvil plugin templates/base-new.tpl writes the line's voicemail
// extension there).
//
// Where keys go (fanvilModelOf): the X6U has 5 side keys in
// <dssSide index="1"> and the rest on the screen's DSS pages,
// <internal index="page"> with 12 keys each, 5 pages (FusionPBX's X6U
// template: dssSide, internal 1–5 "Each Internal Index contains 12 keys",
// FuncKeyPageNum 5; Wazo's serie_x/entry.py: X6U TOP_FUNCTION_KEYS 5,
// FUNCTION_KEYS_PER_PAGE 12); the X4U and X5U have 3 and 4 side keys
// (Wazo's TOP_FUNCTION_KEYS) and 5 DSS pages of 6 (Wazo's
// FUNCTION_KEYS_PER_PAGE; FusionPBX's x4u and x5u templates: internal 1–5,
// "Each Internal Index contains 6 keys", FuncKeyPageNum 5); the X7 has 11
// side keys and 4 pages of 29 (FusionPBX's x7 template: "11 dssSide keys",
// "4 pages containing 29 keys each", FuncKeyPageNum 4); the X3U's keys are
// <SidekeyConfig1 index="k"> (FusionPBX's x3u template). Lines per model
// are the <line> entries of FusionPBX's templates: X3U 6, X4U 12, X5U 16,
// X6U 20, X7 20.
//
// BLF keys are Type 1 with Value "<ext>@<line>/ba": FusionPBX's key tables
// (app/devices/app_config.php) name "ba" BLF with attended transfer (bc new
// call, bb blind transfer); Wazo appends its PBX's pickup code to pick up.
// deskgate serves no pickup code (pickup is dialog-info Replaces, which no
// Fanvil source documents), so a Fanvil BLF key shows the state, dials the
// extension when idle and transfers to it during a call; it does not pick
// up.
//
// Shared lines: the Fanvil J4SG manual has SCA need "Enable SCA" on the
// line and a DSS key of type "Shared Call Appearance", whose code no source
// at hand gives, so department and executive lines are private
// (EnableSCA 0) with a BLF key on the line's extension each.
//
// Provisioning server: <ap> FlashServerIP (server URL), FlashFileName
// ("$mac.cfg"), FlashProtocol (4 HTTP, as Wazo's template with its http
// URL; 5 HTTPS, as FusionPBX's with https), FlashMode 1, FlashInterval 1 —
// the values of Wazo's base-new.tpl.
//
// Not done or not verified: the MWI SUBSCRIBE switch (the X6U template has
// <Subscribe>/<SubExpire> per line, but no document at hand says they are
// the message-waiting subscription), a DND key and a voicemail key (no
// confirmed DSS key type or key-event value for either; FeatureSync is set
// on the user's own line), the X3U's key count (a datasheet figure: its
// template writes whatever keys it is given), and the V2/Pro variants,
// served as their base model although Wazo's serie_x gives the X4U-V2/Pro
// 10 top keys (the X4U 3).
type fanvil struct{}

// fanvilModel is where a model's keys go.
type fanvilModel struct {
	sidekeyConfig bool // X3U: <SidekeyConfig1 index="k">
	side          int  // keys in <dssSide index="1">
	perPage       int  // keys per <internal index="page">
	lines         int  // SIP lines
}

func fanvilModelOf(name string, keys int) fanvilModel {
	switch name {
	case "x3u":
		return fanvilModel{sidekeyConfig: true, side: keys, lines: 6}
	case "x4u":
		return fanvilModel{side: 3, perPage: 6, lines: 12}
	case "x5u":
		return fanvilModel{side: 4, perPage: 6, lines: 16}
	case "x6u":
		return fanvilModel{side: 5, perPage: 12, lines: 20}
	case "x7":
		return fanvilModel{side: 11, perPage: 29, lines: 20}
	}
	return fanvilModel{side: keys, lines: max(keys, 1)}
}

func (fanvil) layoutOptions(model string) LayoutOptions {
	keys := lineKeysOf(model)
	m := fanvilModelOf(modelName(model), keys)
	return LayoutOptions{Keys: keys, Accounts: m.lines, SCA: false}
}

func (fanvil) serves(k fileKind) bool { return k == kindMACCfg }

func (fanvil) commonFile(fileRequest, commonInput) (file, bool) { return file{}, false }

func (fv fanvil) phoneFile(req fileRequest, in renderInput) (file, bool) {
	if req.Kind != kindMACCfg {
		return file{}, false
	}
	lay := in.Layout
	m := fanvilModelOf(modelName(lay.Model), lineKeysOf(lay.Model))
	var f xmlFile
	f.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	f.raw("<sysConf>\n")
	f.elem(1, "Version", "2.0000000000")
	fanvilProvisioning(&f, in.BaseURL)
	f.raw("  <sip>\n")
	for _, a := range lay.Accounts {
		fv.line(&f, a, in)
	}
	f.raw("  </sip>\n  <dsskey>\n")
	fv.keys(&f, m, lay.Keys)
	f.raw("  </dsskey>\n</sysConf>\n")
	return file{body: f.bytes(), contentType: "application/xml"}, true
}

// fanvilProvisioning keeps the phone on our server (Wazo base-new.tpl <ap>).
func fanvilProvisioning(f *xmlFile, baseURL string) {
	scheme, _, ok := strings.Cut(baseURL, "://")
	if !ok {
		return
	}
	protocol := 4 // HTTP
	if strings.EqualFold(scheme, "https") {
		protocol = 5
	}
	f.raw("  <ap>\n")
	f.elem(2, "DownloadDeviceConf", 1)
	f.elem(2, "FlashServerIP", strings.TrimSuffix(baseURL, "/"))
	f.elem(2, "FlashFileName", "$mac.cfg")
	f.elem(2, "FlashProtocol", protocol)
	f.elem(2, "FlashMode", 1)
	f.elem(2, "FlashInterval", 1)
	f.raw("  </ap>\n")
}

// keys writes the side keys, then the DSS pages (see fanvilModelOf).
func (fv fanvil) keys(f *xmlFile, m fanvilModel, keys []Key) {
	if m.sidekeyConfig {
		for i, k := range keys {
			fv.key(f, "SidekeyConfig1", i+1, k, 2)
		}
		return
	}
	side := min(len(keys), m.side)
	rest := keys[side:]
	pages := 0
	if m.perPage > 0 {
		pages = (len(rest) + m.perPage - 1) / m.perPage
	}
	if pages > 0 { // DSS pages the phone shows (FusionPBX and Wazo write it first)
		f.elem(2, "FuncKeyPageNum", pages)
	}
	f.raw("    <dssSide index=\"1\">\n")
	for i, k := range keys[:side] {
		fv.key(f, "Fkey", i+1, k, 3)
	}
	f.raw("    </dssSide>\n")
	for p := range pages {
		f.raw(`    <internal index="` + strconv.Itoa(p+1) + "\">\n")
		for i, k := range rest[p*m.perPage : min(len(rest), (p+1)*m.perPage)] {
			fv.key(f, "Fkey", i+1, k, 3)
		}
		f.raw("    </internal>\n")
	}
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
	f.elem(3, "EnableSCA", boolDigit(a.Shared)) // never on: see above
	f.elem(3, "FeatureSync", boolDigit(a.Type == KeyLine))
	if a.MWI {
		f.elem(3, "MWINum", in.VoicemailNumber)
	} else {
		f.elem(3, "MWINum", "")
	}
	f.raw("    </line>\n")
}

// key writes one key element; the layout gives Fanvil no key type it
// cannot write (no DND or voicemail keys).
func (fanvil) key(f *xmlFile, elem string, i int, k Key, depth int) {
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
	ind := strings.Repeat("  ", depth)
	f.raw(ind + "<" + elem + ` index="` + strconv.Itoa(i) + "\">\n")
	f.elem(depth+1, "Type", typ)
	f.elem(depth+1, "Value", value)
	f.elem(depth+1, "Title", k.Label)
	f.raw(ind + "</" + elem + ">\n")
}
