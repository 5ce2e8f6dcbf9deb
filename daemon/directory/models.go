package directory

import (
	"slices"
	"strings"
)

// lineKeys maps each supported vendor to its models and the number of
// programmable line/DSS keys a provisioning file can address on the phone
// itself (all pages of the key area, no expansion module). Sources per
// vendor (docs/provisioning.md "Key and line counts" has the same table):
//   - Yealink: Wazo provd's _NB_LINEKEY (wazo-provd-plugins
//     plugins/wazo_yealink/v86/common.py).
//   - Poly VVX: Wazo provd's _NB_FKEY without its expansion-module share
//     (plugins/wazo_polycom/common/common.py: VVX150 2, VVX250 4, VVX350 6,
//     VVX450 12, VVX501 12, VVX601 16). Poly Edge E: NO template or vendor
//     table at hand; these are datasheet figures, unverified (FusionPBX's
//     poly/edge-e550 template writes whatever keys it is given).
//   - Grandstream: the fixed VPKs (the keys that take line modes, the only
//     ones the renderer writes) of each model's section in Grandstream's
//     own configuration templates (gxp2130_40_60_70_35_config_1.0.11.16.txt:
//     GXP2160 6, GXP2170 12; grp261x_config_1.0.5.15.txt: GRP2612 4, GRP2613
//     6, GRP2614 4, GRP2616 6). GRP2615 10: the 1.0.5.15 change log says
//     "VPK 6-10 changed to fixed VPK", while that template's own GRP2615
//     section still lists VPK 1-5 fixed and 6-40 dynamic. The phones have
//     more, dynamic VPKs (Wazo's MODEL_FKEYS: GRP2612 16, GRP2613 24,
//     GRP2614 16, GRP2615 40, GRP2616 16, GXP2160 24, GXP2170 48) that the
//     renderer does not write: keys past the fixed ones are reported.
//   - Snom: NO template or vendor table at hand (Wazo's and FusionPBX's
//     Snom templates write whatever fkeys they are given); datasheet
//     counts of physical keys, unverified.
//   - Cisco MPP: Wazo provd's _NB_FKEY (plugins/wazo_cisco_sip/v11_3_1/
//     common.py; 8845/8865 as 8841/8861, which Wazo does not list).
//   - Fanvil: side keys + DSS pages × keys per page of FusionPBX's
//     templates (fusionpbx resources/templates/provision/fanvil/<model>/
//     {$mac}.cfg): X4U 3 + 5×6, X5U 4 + 5×6 (side keys as Wazo's serie_x
//     TOP_FUNCTION_KEYS, page size its FUNCTION_KEYS_PER_PAGE), X6U 5 + 5×12,
//     X7 11 + 4×29 (the x7 template: "11 dssSide keys", "4 pages containing
//     29 keys each"). X3U 6 SidekeyConfig1 keys: datasheet count, unverified
//     (the x3u template writes whatever keys it is given).
var lineKeys = map[string]map[string]int{
	"yealink": {
		"t31p": 2, "t31g": 2, "t33g": 12,
		"t43u": 15, "t44u": 24, "t44w": 24, "t46u": 27, "t48u": 29,
		"t53": 21, "t53w": 21, "t54w": 27, "t57w": 29, "t58w": 27,
	},
	"poly": {
		"vvx150": 2, "vvx250": 4, "vvx350": 6, "vvx450": 12, "vvx501": 12, "vvx601": 16,
		"edge-e100": 2, "edge-e220": 4, "edge-e300": 8, "edge-e320": 8, "edge-e350": 8,
		"edge-e400": 16, "edge-e450": 16, "edge-e500": 12, "edge-e550": 12,
	},
	"grandstream": {
		"grp2612": 4, "grp2613": 6, "grp2614": 4, "grp2615": 10, "grp2616": 6,
		"gxp2160": 6, "gxp2170": 12,
	},
	"snom": {
		"d713": 4, "d717": 3, "d735": 8, "d785": 12, "d865": 12,
	},
	"cisco": {
		"7811": 1, "7821": 2, "7841": 4, "7861": 16,
		"8811": 10, "8841": 10, "8845": 10, "8851": 10, "8861": 10, "8865": 10,
	},
	"fanvil": {
		"x3u": 6, "x4u": 33, "x5u": 34, "x6u": 65, "x7": 127,
	},
}

// NormalizeModel returns model trimmed and lower-cased, the form stored in a
// Snapshot ("Yealink-T54W" → "yealink-t54w").
func NormalizeModel(model string) string { return strings.ToLower(strings.TrimSpace(model)) }

// SplitModel splits "<vendor>-<model>" (any case) into its parts; ok reports
// whether the vendor and model are both known.
func SplitModel(model string) (vendor, name string, ok bool) {
	vendor, name, _ = strings.Cut(NormalizeModel(model), "-")
	models, known := lineKeys[vendor]
	if !known {
		return vendor, name, false
	}
	_, ok = models[name]
	return vendor, name, ok
}

// Vendor returns the vendor of a known model ("poly-vvx450" → "poly"), or ""
// if the model is not known.
func Vendor(model string) string {
	v, _, ok := SplitModel(model)
	if !ok {
		return ""
	}
	return v
}

// KnownModel reports whether model (any case) is a supported
// "<vendor>-<model>".
func KnownModel(model string) bool {
	_, _, ok := SplitModel(model)
	return ok
}

// LineKeys returns how many programmable line keys a known model has (see
// the table's comment for what is counted), or 0 for an unknown model.
func LineKeys(model string) int {
	v, m, ok := SplitModel(model)
	if !ok {
		return 0
	}
	return lineKeys[v][m]
}

// Vendors lists the supported vendors in alphabetical order.
func Vendors() []string {
	out := make([]string, 0, len(lineKeys))
	for v := range lineKeys {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}

// Models lists the supported models of vendor as full "<vendor>-<model>"
// names in alphabetical order; nil for an unknown vendor.
func Models(vendor string) []string {
	models := lineKeys[NormalizeModel(vendor)]
	if models == nil {
		return nil
	}
	out := make([]string, 0, len(models))
	for m := range models {
		out = append(out, NormalizeModel(vendor)+"-"+m)
	}
	slices.Sort(out)
	return out
}
