package provisioning

import (
	"strconv"
	"strings"
)

// Grandstream GXP21xx/GRP261x renderer: <gs_provision><config> with
// P-values, fetched as cfg<mac>.xml (older firmware: cfg<mac>).
//
// Sources (Grandstream's own annotated configuration templates, as shipped
// in wazo-platform/wazo-provd-plugins under plugins/wazo-grandstream/docs/
// config-template/):
//   - gxp2130_40_60_70_35_config_1.0.11.16.txt ("Configuration Template For
//     GXP2130/2135/2140/2160/2170 Firmware Version 1.0.11.16");
//   - grp261x_config_1.0.5.15.txt ("Configuration Template For GRP261x
//     Firmware Version 1.0.5.15") and change_log/changelog_grp261x_config_
//     1.0.5.15.txt.
//
// Accounts (same P-values in both templates; accounts 5 and 6 read in the
// GXP template, 1–4 in both): active, account name, SIP server, user ID,
// authenticate ID, password, name, voicemail number, transport (0 UDP,
// 1 TCP, 2 TLS), SUBSCRIBE for MWI, feature key synchronisation, BLF
// call-pickup (0 auto) — see gsAccountP. Accounts per model: GXP2160/2170
// six ("Account 5/6 - GXP2160/2170 only"); GRP2612 two, GRP2613 three,
// GRP2614 four, GRP2615 five, GRP2616 six (the VPK "Account" choices of
// each model's section).
//
// Line keys are "virtual multi-purpose keys" (VPKs): VPK k ≤ 6 has mode
// P(1363+2(k-1)), account P(1364+2(k-1), 0-based), description
// P(1465+2(k-1)) and value P(1466+2(k-1)); VPK k ≥ 7 has mode, account,
// description and value at P(23800+4(k-7)) … +3 (both templates, every
// model section read). Only "fixed" VPKs take line modes, and their mode codes
// differ by family — see grandstream_keys.go. Every key this renderer
// writes is a fixed VPK: each model's key count is capped at its fixed VPK
// count.
//
// DND: a line key in DND mode (both templates' mode lists) toggles DND;
// "Feature Key Synchronization" (P2325, listed under the templates'
// Broadsoft settings) is on for the user's own account so the phone can
// exchange DND with the server.
//
// BroadSoft: every account's "Special Feature" is 102 (Broadsoft): P198,
// P424, P524, P624, P1724, P1824 ("Special Feature. 100 - Standard, …
// 102- Broadsoft"; P2325 follows under "# Broadsoft" in both templates, so
// feature key sync is a BroadSoft-mode setting).
//
// Shared lines: GXP21xx department and executive accounts are BroadWorks
// shared call appearances (the "shared line" VPK mode): Grandstream's
// "GXP2130/2140/2160 BroadWorks SCA Configuration User Guide" (Special
// Feature BroadSoft, Line Key Mode "Shared Line") and its BroadSoft
// Partner Configuration Guide for GXP21xx (BroadWorks SCA runs call-info
// and line-seize). No Grandstream document at hand says the GRP261x runs
// BroadWorks SCA, so there those lines are private ("Default" mode) with a
// BLF key on the line's extension.
//
// Provisioning server: P212 "Config Via" (1 HTTP, 2 HTTPS) and P237
// "Config Server Path" (host/path without scheme, as the template's
// "fm.grandstream.com/gs"). No "Eventlist BLF URI" (P134): deskgate serves
// no RFC 4662 resource list.
//
// Not verified: key layouts on firmware older than these two templates
// (FusionPBX's copy of the GXP21xx 1.0.9.127 template, grandstream/gxp2170/
// {$mac}.xml, already has the P23800 block but not every model section was
// compared); whether the DND key follows the server through P2325 rather
// than only toggling local DND (the templates do not say; not tried on a
// phone). P2325 stays off on shared and executive accounts.
type grandstream struct{}

// gsAccount holds the P-value numbers of one account.
type gsAccount struct {
	active, name, server, user, auth, password, display, voicemail, transport, mwi, featureSync, blfPickup, special int
}

// gsAccountP returns account i's P-values (1..6), per the templates above.
func gsAccountP(i int) (gsAccount, bool) {
	switch i {
	case 1:
		return gsAccount{271, 270, 47, 35, 36, 34, 3, 33, 130, 99, 2325, 6752, 198}, true
	case 2:
		return gsAccount{401, 417, 402, 404, 405, 406, 407, 426, 448, 415, 2425, 6753, 424}, true
	case 3:
		return gsAccount{501, 517, 502, 504, 505, 506, 507, 526, 548, 515, 2525, 6754, 524}, true
	case 4:
		return gsAccount{601, 617, 602, 604, 605, 606, 607, 626, 648, 615, 2625, 6755, 624}, true
	case 5:
		return gsAccount{1701, 1717, 1702, 1704, 1705, 1706, 1707, 1726, 1748, 1715, 2725, 6756, 1724}, true
	case 6:
		return gsAccount{1801, 1817, 1802, 1804, 1805, 1806, 1807, 1826, 1848, 1815, 2825, 6757, 1824}, true
	}
	return gsAccount{}, false
}

func (grandstream) layoutOptions(model string) LayoutOptions {
	m := gsModelOf(modelName(model))
	return LayoutOptions{Keys: min(lineKeysOf(model), m.fixed), Accounts: m.accounts, DNDKey: true, VoicemailKey: true,
		SCA: m.family == gsGXP}
}

func (grandstream) serves(k fileKind) bool { return k == kindGrandstreamCfg }

func (grandstream) commonFile(fileRequest, commonInput) (file, bool) { return file{}, false }

func (g grandstream) phoneFile(req fileRequest, in renderInput) (file, bool) {
	if req.Kind != kindGrandstreamCfg {
		return file{}, false
	}
	lay := in.Layout
	m := gsModelOf(modelName(lay.Model))
	opts := g.layoutOptions(lay.Model)
	var f xmlFile
	f.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	f.raw("<gs_provision version=\"1\">\n")
	f.elem(1, "mac", compactMAC(lay.MAC))
	f.raw("  <config version=\"1\">\n")
	if scheme, rest, ok := strings.Cut(in.BaseURL, "://"); ok && rest != "" {
		via := 1 // HTTP
		if strings.EqualFold(scheme, "https") {
			via = 2
		}
		f.elem(2, "P212", via)
		f.elem(2, "P237", strings.TrimSuffix(rest, "/"))
	}
	for _, a := range lay.Accounts {
		g.account(&f, a, in)
	}
	// Accounts a previous layout used are switched off.
	for i := len(lay.Accounts) + 1; i <= opts.Accounts; i++ {
		if ps, ok := gsAccountP(i); ok {
			f.elem(2, p(ps.active), 0)
		}
	}
	// Keys beyond the layout are set to None so old ones do not linger.
	for i := 1; i <= opts.Keys; i++ {
		var k Key
		if i <= len(lay.Keys) {
			k = lay.Keys[i-1]
		}
		gsKey(&f, i, k, m.family.modes())
	}
	f.raw("  </config>\n</gs_provision>\n")
	return file{body: f.bytes(), contentType: "application/xml"}, true
}

// p is the element name of P-value n.
func p(n int) string { return "P" + strconv.Itoa(n) }

func (grandstream) account(f *xmlFile, a Account, in renderInput) {
	ps, ok := gsAccountP(a.Index)
	if !ok {
		return // layoutOptions never allows more accounts than the table has
	}
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
	f.elem(2, p(ps.special), 102) // Broadsoft: feature key sync and SCA
	f.elem(2, p(ps.featureSync), boolDigit(a.Type == KeyLine))
	f.elem(2, p(ps.blfPickup), 0)
}
