package provisioning

import "strconv"

// Snom D7xx/D8xx renderer: XML settings, fetched as
// snom<model>-<MAC>.htm (or .xml) — the usual setting_server URL pattern.
// The User-Agent carries the MAC after the firmware fields (Wazo's Snom
// plugin, common.py _UA_REGEX_MAC: "snomD785-SIP 10.1.33.33 1.1.5-IFX-05.01.12
// 000413922D24"), read by useragent.go.
//
// Parameter names come from the Snom configuration-parameter wiki
// (service.snom.com "Function Key Types": fkey values "line",
// "blf <sip:…>", "keyevent <event>", "none"; identity settings user_active,
// user_realname, user_name, user_pname (authentication user), user_pass,
// user_host, user_outbound, user_shared_line, user_mailbox) and FusionPBX's
// D785 template (fusionpbx/fusionpbx resources/templates/provision/snom/
// D785/{$mac}.xml) for the <settings><phone-settings e="2"> /
// <functionKeys e="2"> layout with idx and context attributes.
//
// DND: the user's identity gets using_server_managed_dnd=on — "the SIP
// server manages Do Not Disturb for this SIP account (identity)", per-idx,
// on/off: Gigaset Pro wiki "FAQ Desktop - using_server_managed_dnd" (the
// Snom-based Desktop IP PRO firmware; its example is BroadWorks, i.e. the
// as-feature-event synchronisation) and Snom wiki "server_managed_dnd_state"
// (names the setting; since 8.7.3 dnd_mode is held per identity). The DND
// key is fkey "keyevent F_DND" (Snom wiki Settings/F_DND: toggles DND, the
// key's LED shows it).
//
// Shared lines: Snom documents user_shared_line (FusionPBX's D785 template
// writes it) but no Snom document at hand says which event packages it
// runs, so department and executive identities are private
// (user_shared_line off) with a BLF key on the line's extension each —
// never an SCA line the phone may run in a way deskgate does not serve.
// BLF keys carry no "|<pickup code>" suffix (Wazo's and FusionPBX's
// templates append their PBX's pickup code): deskgate serves no pickup
// code, only the Replaces INVITE of dialog-info pickup.
//
// Provisioning server: setting_server (Wazo's Snom base.tpl:
// <setting_server perm="RW">{{ XX_server_url }}/</setting_server>).
//
// Not verified on a phone: that a D7xx with using_server_managed_dnd
// subscribes to as-feature-event (the wiki pages name BroadWorks, not the
// event package); whether user_server_type must also be set (FusionPBX
// writes "Default"; its other values were not found documented, so it is
// left alone). Voicemail uses the phone's own message key (user_mailbox).
//
// Counts: neither Wazo's Snom plugin nor FusionPBX's Snom templates bound
// the number of fkeys or identities per model, so the directory's key
// counts (physical keys, no paging) and the identities here (one per key,
// at most 12) are datasheet figures, unverified.
type snom struct{}

func (snom) layoutOptions(model string) LayoutOptions {
	keys := lineKeysOf(model)
	return LayoutOptions{Keys: keys, Accounts: min(max(keys, 1), 12), DNDKey: true}
}

func (snom) serves(k fileKind) bool { return k == kindSnomCfg }

func (s snom) phoneFile(req fileRequest, in renderInput) (file, bool) {
	if req.Kind != kindSnomCfg {
		return file{}, false
	}
	lay := in.Layout
	var f xmlFile
	f.raw(`<?xml version="1.0" encoding="utf-8"?>` + "\n")
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	f.raw("<settings>\n  <phone-settings e=\"2\">\n")
	if in.BaseURL != "" {
		f.raw(`    <setting_server perm="RW">` + escapeXML(in.BaseURL) + "</setting_server>\n")
	}
	for _, a := range lay.Accounts {
		s.identity(&f, a, in)
	}
	opts := s.layoutOptions(lay.Model)
	for i := len(lay.Accounts) + 1; i <= opts.Accounts; i++ {
		f.raw(`    <user_active idx="` + strconv.Itoa(i) + `" perm="">off</user_active>` + "\n")
	}
	f.raw("  </phone-settings>\n  <functionKeys e=\"2\">\n")
	for i := 1; i <= opts.Keys; i++ {
		var k Key
		if i <= len(lay.Keys) {
			k = lay.Keys[i-1]
		}
		s.fkey(&f, i-1, k)
	}
	f.raw("  </functionKeys>\n</settings>\n")
	return file{body: f.bytes(), contentType: "application/xml"}, true
}

func (snom) commonFile(fileRequest, commonInput) (file, bool) { return file{}, false }

func (snom) identity(f *xmlFile, a Account, in renderInput) {
	idx := strconv.Itoa(a.Index)
	set := func(name, value string) {
		f.raw(`    <` + name + ` idx="` + idx + `" perm="">` + escapeXML(value) + `</` + name + ">\n")
	}
	f.comment("Identity %d (%s): %s <%s>", a.Index, a.Type, a.Label, a.Extension)
	set("user_active", "on")
	set("user_realname", a.DisplayName)
	set("user_name", a.Extension)
	set("user_pname", a.AuthUser)
	set("user_pass", in.Password)
	set("user_host", in.SIP.Host+":"+strconv.Itoa(in.SIP.Port))
	set("user_outbound", in.SIP.Host+":"+strconv.Itoa(in.SIP.Port)+";transport="+in.SIP.Transport)
	set("user_shared_line", onOff(a.Shared)) // never on: see above
	set("using_server_managed_dnd", onOff(a.Type == KeyLine))
	if a.MWI {
		set("user_mailbox", in.VoicemailNumber)
	} else {
		set("user_mailbox", "")
	}
}

func (snom) fkey(f *xmlFile, idx int, k Key) {
	context, value := "active", "none"
	switch k.Type {
	case KeyLine, KeySharedLine, KeyExecutiveLine:
		context, value = strconv.Itoa(k.Account), "line"
	case KeyBLF, KeyAway:
		context, value = strconv.Itoa(k.Account), "blf <"+k.URI+">"
	case KeyDND:
		context, value = strconv.Itoa(k.Account), "keyevent F_DND"
	}
	f.raw(`    <fkey idx="` + strconv.Itoa(idx) + `" context="` + context + `" label="` + escapeXML(k.Label) +
		`" perm="">` + escapeXML(value) + "</fkey>\n")
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}
