package provisioning

import (
	"strconv"
	"strings"
)

// Cisco IP Phone 7800/8800 Multiplatform (3PCC/MPP) renderer: one
// <flat-profile> per phone, fetched as <mac>.xml or spa<mac>.xml (the phone
// asks for whatever its Profile_Rule says; "$MA.xml" is the usual rule).
//
// Parameter names come from the "Cisco IP Phone 8800 Series Multiplatform
// Phones Administration Guide" (Ext n: Line_Enable_n_, Share_Ext_n_,
// Proxy_n_, SIP_Transport_n_ UDP/TCP/TLS, Register_n_, Display_Name_n_,
// User_ID_n_, Password_n_, Use_Auth_ID_n_, Auth_ID_n_, Feature_Key_Sync_n_,
// Mailbox_ID_n_, Voice_Mail_Server_n_; Voice_Mail_Number; line keys
// Extension_k_, Short_Name_k_, Share_Call_Appearance_k_ private/shared,
// Extended_Function_k_), cross-checked with FusionPBX's 8851 template
// (fusionpbx/fusionpbx resources/templates/provision/cisco/8851/{$mac}.xml:
// every name above, Extension_k_ "1…12/Disabled", and DND_Serv under
// Supplementary Services) and the Wazo provd Cisco MPP plugin, whose BLF
// function string "fnc=blf+sd+cp;sub=<ext>@$PROXY;nme=<label>" (busy lamp,
// speed dial, call pickup) is used here and matches the admin guides'
// "fnc=blf+sd+cp;sub=xxxx@$PROXY" syntax.
//
// DND: DND_Serv=Yes keeps the phone's DND softkey; Feature_Key_Sync=Yes on
// the user's own Ext synchronises DND (and call forwarding) with the server
// over SIP ("DND and Call Forwarding Status Sync" in the Cisco IP Phone
// 7800 Series Multiplatform Phones Administration Guide: FKS uses SIP
// messages, takes precedence over XSI). The phones have DND and Messages
// keys of their own, so the layout gives neither a line key.
//
// Factory-default phones ask for /$PSN.xml ("Profile Rule … Default:
// /$PSN.xml", e.g. 8851-3PCC.xml): that request gets a bootstrap
// flat-profile that points the phone at its own file, as Wazo's Cisco MPP
// plugin does (plugins/wazo_cisco_sip/v11_3_1/templates/common/model.cfg.tpl:
// Resync_On_Reset Yes, Resync_Periodic 3600, Profile_Rule_B/C "<server
// url>/…" with "$MA.xml"). Every phone file repeats the same rule so it
// sticks. Only a phone whose User-Agent names a MAC the directory gives to
// a Cisco phone gets it (like every model-wide file).
//
// Shared lines: no Cisco MPP document at hand says which event packages a
// "shared" Ext runs (FusionPBX also writes Shared_User_ID_n_), so
// department and executive Exts are private with a BLF key on the line's
// extension each. BLF keys are "fnc=blf+sd+cp;sub=<ext>@$PROXY;
// ext=<ext>@$PROXY;nme=<label>": the admin guide's "fnc=blf+sd+cp;sub=
// xxxx@$PROXY" plus the speed-dial target "ext=" of Cisco's Webex help
// ("…;ext=$USER@$PROXY") so an idle key dials. No Call_Pickup_Code (Wazo
// sets its PBX's): deskgate serves no pickup code; "+cp" picks up.
//
// Line keys per model are Wazo's _NB_FKEY (plugins/wazo_cisco_sip/v11_3_1/
// common.py: 7811 1, 7821 2, 7841 4, 7861 16, 8811/8841/8851/8861 10; the
// 8845/8865 are taken as their 8841/8861 siblings).
//
// Not written: Message_Waiting_n_ (present in the templates, left at its
// default by FusionPBX; whether it subscribes or merely holds the lamp
// state was not confirmed — MWI comes from Mailbox_ID_n_ with
// Voice_Mail_Server_n_), a "DND_Enable" parameter (not found in any
// source), and a DND line key (fnc=dnd is documented for 9800-series key
// expansion modules only). Not verified on a phone: MWI through
// Mailbox_ID/Voice_Mail_Server for the executive lines. The User-Agent's
// parenthesised value is read as the MAC ($MA); where firmware puts a
// serial number there it does not parse as a MAC and nothing is checked.
type cisco struct{}

func (cisco) layoutOptions(model string) LayoutOptions {
	keys := lineKeysOf(model)
	return LayoutOptions{Keys: keys, Accounts: max(keys, 1), SCA: false}
}

func (cisco) serves(k fileKind) bool { return k == kindMACXML }

// ciscoProfileRule is where the phone fetches its own file: $MA is the
// phone's lower-case MAC. Without a base URL the rule stays relative to the
// server the phone used ("/$PSN.xml" style).
func ciscoProfileRule(baseURL string) string {
	return strings.TrimSuffix(baseURL, "/") + "/$MA.xml"
}

// ciscoResync writes the resync rules of Wazo's model.cfg.tpl.
func ciscoResync(f *xmlFile, baseURL string) {
	f.elem(1, "Resync_On_Reset", "Yes")
	f.elem(1, "Resync_Periodic", 3600)
	f.elem(1, "Profile_Rule_B", ciscoProfileRule(baseURL))
}

func (c cisco) phoneFile(req fileRequest, in renderInput) (file, bool) {
	if req.Kind != kindMACXML {
		return file{}, false
	}
	lay := in.Layout
	var f xmlFile
	f.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	f.comment("deskgate: %s (%s), user %s. Generated: edits are overwritten.", lay.MAC, lay.Model, lay.User)
	f.raw("<flat-profile>\n")
	ciscoResync(&f, in.BaseURL)
	if in.VoicemailNumber != "" {
		f.elem(1, "Voice_Mail_Number", in.VoicemailNumber)
	}
	f.elem(1, "DND_Serv", "Yes")
	for _, a := range lay.Accounts {
		c.account(&f, a, in)
	}
	opts := c.layoutOptions(lay.Model)
	for i := len(lay.Accounts) + 1; i <= opts.Accounts; i++ {
		f.elem(1, "Line_Enable_"+strconv.Itoa(i)+"_", "No")
	}
	for i := 1; i <= opts.Keys; i++ {
		var k Key
		if i <= len(lay.Keys) {
			k = lay.Keys[i-1]
		}
		c.key(&f, i, k, in.SIP)
	}
	f.raw("</flat-profile>\n")
	return file{body: f.bytes(), contentType: "application/xml"}, true
}

// commonFile is the bootstrap answered to a factory-default phone's
// $PSN.xml request: no account, only where its own file is.
func (cisco) commonFile(req fileRequest, in commonInput) (file, bool) {
	if req.Kind != kindCiscoBootstrap {
		return file{}, false
	}
	var f xmlFile
	f.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	f.comment("deskgate: bootstrap for Cisco %s-3PCC phones: fetch $MA.xml. Generated: edits are overwritten.", req.Model)
	f.raw("<flat-profile>\n")
	ciscoResync(&f, in.BaseURL)
	f.raw("</flat-profile>\n")
	return file{body: f.bytes(), contentType: "application/xml"}, true
}

func (cisco) account(f *xmlFile, a Account, in renderInput) {
	n := "_" + strconv.Itoa(a.Index) + "_"
	share := "private"
	if a.Shared {
		share = "shared"
	}
	f.comment("Ext %d (%s): %s <%s>", a.Index, a.Type, a.Label, a.Extension)
	f.elem(1, "Line_Enable"+n, "Yes")
	f.elem(1, "Share_Ext"+n, share)
	f.elem(1, "Proxy"+n, in.SIP.Host+":"+strconv.Itoa(in.SIP.Port))
	f.elem(1, "SIP_Transport"+n, strings.ToUpper(in.SIP.Transport))
	f.elem(1, "Register"+n, "Yes")
	f.elem(1, "Display_Name"+n, a.DisplayName)
	f.elem(1, "User_ID"+n, a.Extension)
	f.elem(1, "Password"+n, in.Password)
	f.elem(1, "Use_Auth_ID"+n, "Yes")
	f.elem(1, "Auth_ID"+n, a.AuthUser)
	f.elem(1, "Feature_Key_Sync"+n, yesNo(a.Type == KeyLine))
	if a.MWI {
		f.elem(1, "Mailbox_ID"+n, a.Extension)
		f.elem(1, "Voice_Mail_Server"+n, in.SIP.Host+":"+strconv.Itoa(in.SIP.Port))
	} else {
		f.elem(1, "Mailbox_ID"+n, "")
	}
}

func (cisco) key(f *xmlFile, i int, k Key, sip sipServer) {
	n := "_" + strconv.Itoa(i) + "_"
	switch k.Type {
	case KeyLine, KeySharedLine, KeyExecutiveLine:
		share := "private"
		if k.Shared {
			share = "shared"
		}
		f.elem(1, "Extension"+n, k.Account)
		f.elem(1, "Short_Name"+n, k.Label)
		f.elem(1, "Share_Call_Appearance"+n, share)
		f.elem(1, "Extended_Function"+n, "")
	case KeyBLF, KeyAway:
		fn := "fnc=blf+sd"
		if k.Pickup {
			fn += "+cp"
		}
		// Labels go inside the function string: ';' would end the field.
		label := strings.NewReplacer(";", " ", "=", " ").Replace(k.Label)
		f.elem(1, "Extension"+n, "Disabled")
		f.elem(1, "Short_Name"+n, k.Label)
		f.elem(1, "Share_Call_Appearance"+n, "private")
		target := k.Extension + "@$PROXY"
		f.elem(1, "Extended_Function"+n, fn+";sub="+target+";ext="+target+";nme="+label)
	default:
		f.elem(1, "Extension"+n, "Disabled")
		f.elem(1, "Short_Name"+n, "")
		f.elem(1, "Share_Call_Appearance"+n, "private")
		f.elem(1, "Extended_Function"+n, "")
	}
}

func yesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}
