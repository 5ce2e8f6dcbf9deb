package provisioning

// Grandstream line keys (VPKs): models, P-value positions and mode codes.
// Sources are listed in grandstream.go; the mode tables are the "Key Mode
// for line VPK" (fixed VPK) lists of the two templates:
//   - GXP2130/2135/2140/2160/2170 1.0.11.16: -1 None, 0 Default (the
//     account's line), 1 shared line, 11 BLF, 16 Voicemail, 32 DND;
//   - GRP261x 1.0.5.15: None (-1), BLF (1), VoiceMail (6), DND (22),
//     Default (31), SharedLine (32).
// Dynamic VPKs (beyond the fixed ones) use yet another table and take no
// line modes; the renderer never writes one (layoutOptions caps the keys).

// gsFamily selects a mode table.
type gsFamily int

const (
	gsGRP gsFamily = iota // GRP261x
	gsGXP                 // GXP21xx
)

// gsModel is what a Grandstream model offers: its family, SIP accounts and
// fixed VPKs (the keys that can be lines).
type gsModel struct {
	family   gsFamily
	accounts int
	fixed    int
}

// gsModelOf returns a model's numbers from the templates' per-model VPK
// sections ("For GXP2160", "For GXP2170", "For GRP2612", …) and account
// headings ("Account 5 - GXP2160/2170 only", "Account 4 GRP2614/GRP2615/
// GRP2616 only", …). GRP2615: the 1.0.5.15 change log says "VPK 6-10
// changed to fixed VPK", but the template's own GRP2615 section (text and
// v2 XML alike) still marks VPK 6–40 dynamic; 10 follows the change log,
// and where 6–10 are still dynamic a line key there has a mode outside the
// dynamic table ("Number: 0 - 30"; Line is 31), while BLF (1), voicemail
// (6) and DND (22) keys keep their codes there. The dynamic VPKs beyond these (Wazo's MODEL_FKEYS: 16–48
// per model) are never written, so keys past the fixed ones are reported
// by the layout, not placed. An unknown model gets one account and no keys
// rather than a guess.
func gsModelOf(name string) gsModel {
	switch name {
	case "gxp2160":
		return gsModel{gsGXP, 6, 6}
	case "gxp2170":
		return gsModel{gsGXP, 6, 12}
	case "grp2612":
		return gsModel{gsGRP, 2, 4}
	case "grp2613":
		return gsModel{gsGRP, 3, 6}
	case "grp2614":
		return gsModel{gsGRP, 4, 4}
	case "grp2615":
		return gsModel{gsGRP, 5, 10}
	case "grp2616":
		return gsModel{gsGRP, 6, 6}
	}
	return gsModel{gsGRP, 1, 0}
}

// gsModes are the fixed-VPK mode codes of one family.
type gsModes struct{ none, line, shared, blf, voicemail, dnd int }

func (f gsFamily) modes() gsModes {
	if f == gsGXP {
		return gsModes{none: -1, line: 0, shared: 1, blf: 11, voicemail: 16, dnd: 32}
	}
	return gsModes{none: -1, line: 31, shared: 32, blf: 1, voicemail: 6, dnd: 22}
}

// gsVPK returns the mode, account, description and value P-values of VPK k
// (1-based).
func gsVPK(k int) (mode, account, desc, value int) {
	if k <= 6 {
		o := 2 * (k - 1)
		return 1363 + o, 1364 + o, 1465 + o, 1466 + o
	}
	b := 23800 + 4*(k-7)
	return b, b + 1, b + 2, b + 3
}

// gsKey writes VPK i for k; the zero Key (and any type without a mode)
// writes None.
func gsKey(f *xmlFile, i int, k Key, m gsModes) {
	mode, account, value := m.none, 0, ""
	switch k.Type {
	case KeyLine:
		mode = m.line
	case KeySharedLine, KeyExecutiveLine:
		mode = m.line // private line; a BLF key follows it
		if k.Shared {
			mode = m.shared // BroadWorks SCA
		}
	case KeyBLF, KeyAway:
		mode, value = m.blf, k.Extension
	case KeyVoicemail:
		mode = m.voicemail
	case KeyDND:
		mode = m.dnd
	}
	if mode != m.none {
		account = k.Account - 1
	}
	pm, pa, pd, pv := gsVPK(i)
	f.elem(2, p(pm), mode)
	f.elem(2, p(pa), account)
	f.elem(2, p(pd), k.Label)
	f.elem(2, p(pv), value)
}
