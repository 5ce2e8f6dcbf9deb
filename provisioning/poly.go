package provisioning

import (
	"strconv"
	"strings"
)

// Poly VVX and Edge E (UC Software) renderer.
//
// Parameter names come from the Polycom UC Software Administrator Guide
// (4.x–6.x) and its configuration reference: the master configuration file
// (<mac>.cfg, else 000000000000.cfg) with <APPLICATION APP_FILE_PATH
// CONFIG_FILES …> and the [PHONE_MAC_ADDRESS] variable; reg.x.address,
// .auth.userId, .auth.password, .displayName, .label, .type
// ("private"/"shared"), .lineKeys, .server.y.address/port/transport
// (UDPOnly, TCPOnly, TLS), .serverFeatureControl.dnd;
// voIpProt.SIP.serverFeatureControl.dnd;
// voIpProt.SIP.specialEvent.checkSync.alwaysReboot; msg.mwi.x.subscribe,
// .callBackMode ("contact"/"disabled"), .callBack;
// attendant.reg and attendant.resourceList.x.address/label/type; flexible
// line keys lineKey.reassignment.enabled and lineKey.x.category ("Line",
// "BLF", "Unassigned") / lineKey.x.index. Cross-checked against the Wazo
// provd Polycom plugin, FusionPBX's VVX templates and FreePBX's
// polycomphones module. Poly phones upload <mac>-phone.cfg and
// <mac>-web.cfg as override files, so our file has its own name,
// <mac>-deskgate.cfg.
//
// Shared lines: reg.x.type="shared" is Shared Call Appearance, which the
// phone runs with "call-info" (state) and "line-seize" (seize) subscriptions
// (Polycom SIP Administrator's Guide, "Shared Call Appearance Signaling") —
// what deskgate serves, so department and executive lines are SCA on every
// Poly model.
//
// DND: with SCA, Poly gives up server DND ("Server-based DND cannot be
// enabled on a phone configured as a shared line", and per-registration
// server DND "is not supported": UC Software admin guide, "Server-Based Do
// Not Disturb"; SIP 3.0.2 AG: "Server-based DND is disabled if Shared Call
// Appearance … is enabled"). So a phone with a shared line gets
// voIpProt.SIP.serverFeatureControl.dnd="0" and its own DND turned off,
// feature.doNotDisturb.enable="0" (the same guide's "Do Not Disturb
// Parameters": 1 default = enable, 0 = disable): a local DND there would
// silently reject department and executive calls without the server or the
// user's other phones knowing. Its user sets DND with the feature codes,
// from another phone or with deskgatectl; the daemon applies it as
// everywhere. Phones without a shared line keep the synchronised DND key.
//
// Provisioning server: device.set, device.prov.serverName(.set) and
// device.prov.serverType(.set) with 2 = HTTP, 3 = HTTPS, as FusionPBX's
// polycom/5.x/{$mac}.cfg DEVICE_SETTINGS (its app_config.php: "0=FTP,
// 1=TFTP, 2=HTTP, 3=HTTPS"). No attendant.uri (BLF list): deskgate serves no
// RFC 4662 resource list; BLF keys use attendant.resourceList instead.
//
// Not verified on a phone: call.directedCallPickupMethod="native" (BLF
// pickup without a feature code), and that the as-feature-event DND
// synchronisation needs nothing beyond serverFeatureControl.dnd on every
// firmware. The firmware image (APP_FILE_PATH sip.ld) is not served: phones
// keep the firmware they run. Poly phones have their own DND and Messages
// keys, so the layout gives neither a line key.
//
// Counts: line keys per model are the directory's (VVX: Wazo's _NB_FKEY;
// Edge E: datasheet figures no template confirms). One registration (reg.x)
// per line key is likewise a datasheet figure: neither Wazo's plugin nor
// FusionPBX's templates bound the number of registrations per model.
type poly struct{}

func (poly) layoutOptions(model string) LayoutOptions {
	keys := lineKeysOf(model)
	return LayoutOptions{Keys: keys, Accounts: max(keys, 1), DNDKey: false, VoicemailKey: false, SCA: true}
}

func (poly) serves(k fileKind) bool { return k == kindMACCfg || k == kindPolyConfig }

func (p poly) phoneFile(req fileRequest, in renderInput) (file, bool) {
	switch req.Kind {
	case kindMACCfg:
		return polyMaster(compactMAC(in.Layout.MAC)+"-deskgate.cfg", "master configuration file of "+in.Layout.MAC), true
	case kindPolyConfig:
		return p.config(in), true
	}
	return file{}, false
}

func (poly) commonFile(req fileRequest, _ commonInput) (file, bool) {
	if req.Kind != kindPolyCommon {
		return file{}, false
	}
	return polyMaster("[PHONE_MAC_ADDRESS]-deskgate.cfg", "default master configuration file"), true
}

// polyMaster is a master configuration file naming one configuration file.
func polyMaster(configFile, what string) file {
	var f xmlFile
	f.header()
	f.comment("deskgate: %s. Generated: edits are overwritten.", what)
	f.raw("<APPLICATION\n")
	for _, a := range [][2]string{
		{"APP_FILE_PATH", "sip.ld"}, {"CONFIG_FILES", configFile}, {"MISC_FILES", ""},
		{"LOG_FILE_DIRECTORY", ""}, {"OVERRIDES_DIRECTORY", ""}, {"CONTACTS_DIRECTORY", ""},
		{"LICENSE_DIRECTORY", ""}, {"USER_PROFILES_DIRECTORY", ""}, {"CALL_LISTS_DIRECTORY", ""},
		{"COREFILE_DIRECTORY", ""},
	} {
		f.attr(a[0], a[1])
	}
	f.raw("/>\n")
	return file{body: f.bytes(), contentType: "application/xml"}
}

func (p poly) config(in renderInput) file {
	lay := in.Layout
	var f xmlFile
	f.header()
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	f.raw("<polycomConfig\n")
	f.attr("voIpProt.SIP.specialEvent.checkSync.alwaysReboot", 0)
	polyProvisioning(&f, in.BaseURL)
	if hasShared(lay.Accounts) {
		// Poly cannot sync DND on a phone with a shared line: no DND
		// on the phone at all rather than one the server never sees.
		f.attr("voIpProt.SIP.serverFeatureControl.dnd", 0)
		f.attr("feature.doNotDisturb.enable", 0)
	} else {
		f.attr("voIpProt.SIP.serverFeatureControl.dnd", 1)
		f.attr("feature.doNotDisturb.enable", 1)
	}
	if hasPickup(lay.Keys) {
		f.attr("call.directedCallPickupMethod", "native")
	}
	for _, a := range lay.Accounts {
		p.account(&f, a, in)
	}
	p.keys(&f, lay)
	f.raw("/>\n")
	return file{body: f.bytes(), contentType: "application/xml"}
}

func (poly) account(f *xmlFile, a Account, in renderInput) {
	r := "reg." + strconv.Itoa(a.Index) + "."
	f.attr(r+"address", a.Extension)
	f.attr(r+"auth.userId", a.AuthUser)
	f.attr(r+"auth.password", in.Password)
	f.attr(r+"displayName", a.DisplayName)
	f.attr(r+"label", a.Label)
	if a.Shared {
		f.attr(r+"type", "shared") // SCA: call-info + line-seize
	} else {
		f.attr(r+"type", "private")
	}
	f.attr(r+"lineKeys", 1)
	f.attr(r+"server.1.address", in.SIP.Host)
	f.attr(r+"server.1.port", in.SIP.Port)
	f.attr(r+"server.1.transport", transportCode(in.SIP.Transport, "UDPOnly", "TCPOnly", "TLS"))
	// DND belongs to the user: only their own line synchronises it (and
	// only on a phone without a shared line, see above).
	f.attr(r+"serverFeatureControl.dnd", boolDigit(a.Type == KeyLine && !hasShared(in.Layout.Accounts)))
	m := "msg.mwi." + strconv.Itoa(a.Index) + "."
	switch {
	case a.MWI && in.VoicemailNumber != "":
		f.attr(m+"subscribe", a.Extension)
		f.attr(m+"callBackMode", "contact")
		f.attr(m+"callBack", in.VoicemailNumber)
	case a.MWI:
		f.attr(m+"subscribe", a.Extension)
		f.attr(m+"callBackMode", "disabled")
	default:
		f.attr(m+"subscribe", "")
		f.attr(m+"callBackMode", "disabled")
	}
}

// keys writes the BLF resource list (in key order, so lineKey index 0,
// "next resource", lines up) and the flexible line key map.
func (poly) keys(f *xmlFile, lay PhoneLayout) {
	n := 0
	for _, k := range lay.Keys {
		if k.Type != KeyBLF && k.Type != KeyAway {
			continue
		}
		n++
		a := "attendant.resourceList." + strconv.Itoa(n) + "."
		f.attr(a+"address", strings.TrimPrefix(k.URI, "sip:"))
		f.attr(a+"label", k.Label)
		f.attr(a+"type", "normal")
	}
	if n > 0 {
		f.attr("attendant.reg", 1)
	}
	f.attr("lineKey.reassignment.enabled", 1)
	total := lineKeysOf(lay.Model)
	for i := 1; i <= total; i++ {
		l := "lineKey." + strconv.Itoa(i) + "."
		var k Key
		if i <= len(lay.Keys) {
			k = lay.Keys[i-1]
		}
		switch k.Type {
		case KeyLine, KeySharedLine, KeyExecutiveLine:
			f.attr(l+"category", "Line")
			f.attr(l+"index", k.Account)
		case KeyBLF, KeyAway:
			f.attr(l+"category", "BLF")
			f.attr(l+"index", 0)
		default:
			f.attr(l+"category", "Unassigned")
			f.attr(l+"index", 0)
		}
	}
}

// polyProvisioning pins the phone to our provisioning server (FusionPBX
// polycom/5.x DEVICE_SETTINGS); nothing without a BaseURL.
func polyProvisioning(f *xmlFile, baseURL string) {
	scheme, rest, ok := strings.Cut(baseURL, "://")
	if !ok || rest == "" {
		return
	}
	serverType := 2 // HTTP
	if strings.EqualFold(scheme, "https") {
		serverType = 3
	}
	f.attr("device.set", 1)
	f.attr("device.prov.serverName.set", 1)
	// Host and path without the scheme, which serverType carries, as
	// FusionPBX's default "{$domain_name}/app/provision/".
	f.attr("device.prov.serverName", rest)
	f.attr("device.prov.serverType.set", 1)
	f.attr("device.prov.serverType", serverType)
}

// hasShared reports whether any account is a shared call appearance.
func hasShared(accounts []Account) bool {
	for _, a := range accounts {
		if a.Shared {
			return true
		}
	}
	return false
}
