package provisioning

import "strconv"

// Yealink T3x/T4x/T5x renderer.
//
// Parameter names and values come from the "Yealink SIP-T2 Series/T4 Series/
// T5 Series/CP920 IP Phones Administrator Guide" V84–V86 (account.X.*,
// account.X.sip_server.Y.address/port/transport_type with 0 UDP, 1 TCP,
// 2 TLS; account.X.shared_line 1 = Shared Call Appearance;
// account.X.subscribe_mwi; voice_mail.number.X; linekey.X.type/line/value/
// label; features.feature_key_sync.enable and
// features.dnd.feature_key_sync.enable for BroadSoft DND synchronisation;
// the boot file "#!version:1.0.0.1 / include:config" syntax and the request
// order <mac>.boot, y000000000000.boot, y0000000000XX.cfg, <mac>.cfg), and
// the DSS key type codes 5 DND, 12 Voice Mail, 15 Line, 16 BLF as used by
// FusionPBX's yealink.php and Wazo's provd Yealink plugin v86.
//
// Feature key synchronisation is switched on globally (the admin guide's
// "DND Synchronization for Server-side": the per-account switches "work
// only if features.feature_key_sync.enable is set to 1") and then off again
// per account (account.X.feature_key_sync.enable and
// account.X.dnd.feature_key_sync.enable, "V84 Add" in FusionPBX's T54W
// template yealink/t54w/{$mac}.cfg) on every account but the user's own,
// so the phone subscribes as-feature-event only for the user's own line:
// deskgate refuses it on department and executive lines.
//
// Shared lines: account.X.shared_line = 1 is Shared Call Appearance, which
// "Yealink phones support … using a SUBSCRIBE/NOTIFY mechanism … 'call-info'
// for call appearance state notification, 'line-seize' for the phone to ask
// to seize the line" (Yealink T5 Series Administrator Guide, "Shared Call
// Appearance (SCA) Configuration"; line-seize expires after
// account.X.line_seize.expires, default 15 s) — what deskgate serves, so
// department and executive lines are SCA on every Yealink model.
//
// Line key counts per model are Wazo's _NB_LINEKEY (plugins/wazo_yealink/
// v86/common.py: T33G 12, T43U 15, T44U/T44W 24, T46U 27, T48U 29, T53/T53W
// 21, T54W 27, T57W 29, T58W 27) and the account counts its
// _NB_SIP_ACCOUNTS. No BLF list URI (account.X.blf.blf_list_uri) is written:
// deskgate serves no RFC 4662 resource list, and no pickup code
// (linekey.X.extension in Wazo): deskgate's pickup is the Replaces INVITE
// that account.X.dialoginfo_callpickup makes from the dialog-info (Yealink
// admin guide "Dialog Info Call Pickup"), not a feature code.
//
// Not verified on a phone: account.X.dialoginfo_callpickup with deskgate's
// dialog-info.
type yealink struct{}

// yealinkAccounts is how many SIP accounts each model registers.
func yealinkAccounts(name string) int {
	switch name {
	case "t31p", "t31g":
		return 2
	case "t33g":
		return 4
	case "t43u", "t44u", "t44w", "t53", "t53w":
		return 12
	}
	return 16 // t46u, t48u, t54w, t57w, t58w
}

func (yealink) layoutOptions(model string) LayoutOptions {
	keys := lineKeysOf(model)
	return LayoutOptions{Keys: keys, Accounts: yealinkAccounts(modelName(model)), DNDKey: true, VoicemailKey: true, SCA: true}
}

func (yealink) serves(k fileKind) bool { return k == kindMACBoot || k == kindMACCfg }

func (y yealink) phoneFile(req fileRequest, in renderInput) (file, bool) {
	switch req.Kind {
	case kindMACBoot:
		return y.boot(in.Layout), true
	case kindMACCfg:
		return y.config(in), true
	}
	return file{}, false
}

func (yealink) commonFile(req fileRequest, in commonInput) (file, bool) {
	if req.Kind != kindYealinkCommon {
		return file{}, false
	}
	var f kvFile
	f.b.WriteString("#!version:1.0.0.1\n")
	f.comment("deskgate: settings common to every Yealink phone. Generated: edits are overwritten.")
	f.comment("No account here: each phone's own settings are in its <mac>.cfg.")
	yealinkGlobals(&f, in.BaseURL)
	return file{body: f.bytes(), contentType: "text/plain; charset=utf-8"}, true
}

// boot is the per-phone boot file: it names the one configuration file.
func (yealink) boot(lay PhoneLayout) file {
	var f kvFile
	f.b.WriteString("#!version:1.0.0.1\n")
	f.comment("deskgate: boot file of %s (%s). Generated: edits are overwritten.", lay.MAC, lay.Model)
	f.b.WriteString(`include:config "` + compactMAC(lay.MAC) + `.cfg"` + "\n")
	return file{body: f.bytes(), contentType: "text/plain; charset=utf-8"}
}

func yealinkGlobals(f *kvFile, baseURL string) {
	f.blank()
	if baseURL != "" {
		f.comment("Keep fetching from this server")
		f.set("static.auto_provision.server.url", baseURL)
		f.blank()
	}
	f.comment("DND synchronised with the server (BroadSoft feature key sync, as-feature-event)")
	f.set("features.feature_key_sync.enable", 1)
	f.set("features.dnd.feature_key_sync.enable", 1)
}

func (y yealink) config(in renderInput) file {
	lay := in.Layout
	var f kvFile
	f.b.WriteString("#!version:1.0.0.1\n")
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	yealinkGlobals(&f, in.BaseURL)
	opts := y.layoutOptions(lay.Model)
	for _, a := range lay.Accounts {
		y.account(&f, a, in, hasPickup(lay.Keys) && a.Index == 1)
	}
	for i := len(lay.Accounts) + 1; i <= opts.Accounts; i++ {
		y.unusedAccount(&f, i)
	}
	f.blank()
	f.comment("Line keys")
	for i := 1; i <= opts.Keys; i++ {
		if i <= len(lay.Keys) {
			y.key(&f, i, lay.Keys[i-1])
		} else {
			y.unusedKey(&f, i)
		}
	}
	return file{body: f.bytes(), contentType: "text/plain; charset=utf-8"}
}

func (yealink) account(f *kvFile, a Account, in renderInput, pickup bool) {
	p := "account." + strconv.Itoa(a.Index) + "."
	f.blank()
	f.comment("Account %d (%s): %s <%s>", a.Index, a.Type, a.Label, a.Extension)
	f.set(p+"enable", 1)
	f.set(p+"label", a.Label)
	f.set(p+"display_name", a.DisplayName)
	f.set(p+"auth_name", a.AuthUser)
	f.set(p+"user_name", a.Extension)
	f.set(p+"password", in.Password)
	f.set(p+"sip_server.1.address", in.SIP.Host)
	f.set(p+"sip_server.1.port", in.SIP.Port)
	f.set(p+"sip_server.1.transport_type", transportCode(in.SIP.Transport, "0", "1", "2"))
	// 1 = Shared Call Appearance (call-info + line-seize), 0 = private.
	f.set(p+"shared_line", boolDigit(a.Shared))
	// DND sync (as-feature-event) on the user's own line only.
	f.set(p+"feature_key_sync.enable", boolDigit(a.Type == KeyLine))
	f.set(p+"dnd.feature_key_sync.enable", boolDigit(a.Type == KeyLine))
	f.set(p+"subscribe_mwi", boolDigit(a.MWI))
	f.set(p+"dialoginfo_callpickup", boolDigit(pickup))
	if in.VoicemailNumber != "" && a.MWI {
		f.set("voice_mail.number."+strconv.Itoa(a.Index), in.VoicemailNumber)
	}
}

// unusedAccount clears an account a previous configuration may have set.
func (yealink) unusedAccount(f *kvFile, i int) {
	p := "account." + strconv.Itoa(i) + "."
	f.blank()
	f.set(p+"enable", 0)
	for _, k := range []string{"label", "display_name", "auth_name", "user_name", "password"} {
		f.set(p+k, "%NULL%")
	}
}

func (yealink) key(f *kvFile, i int, k Key) {
	p := "linekey." + strconv.Itoa(i) + "."
	switch k.Type {
	case KeyLine, KeySharedLine, KeyExecutiveLine:
		f.set(p+"type", 15)
		f.set(p+"line", k.Account)
		f.set(p+"value", "%NULL%")
	case KeyBLF, KeyAway:
		// The phone subscribes to <value>@<account's server>; the daemon
		// treats its advertised address as its own domain.
		f.set(p+"type", 16)
		f.set(p+"line", k.Account)
		f.set(p+"value", k.Extension)
	case KeyDND:
		f.set(p+"type", 5)
		f.set(p+"line", k.Account)
		f.set(p+"value", "%NULL%")
	case KeyVoicemail:
		f.set(p+"type", 12)
		f.set(p+"line", k.Account)
		f.set(p+"value", "%NULL%")
	}
	f.set(p+"label", k.Label)
}

func (yealink) unusedKey(f *kvFile, i int) {
	p := "linekey." + strconv.Itoa(i) + "."
	f.set(p+"type", 0)
	f.set(p+"value", "%NULL%")
	f.set(p+"label", "%NULL%")
}

func boolDigit(b bool) int {
	if b {
		return 1
	}
	return 0
}

func hasPickup(keys []Key) bool {
	for _, k := range keys {
		if k.Pickup {
			return true
		}
	}
	return false
}
