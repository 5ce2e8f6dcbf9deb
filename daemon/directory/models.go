package directory

import (
	"slices"
	"strings"
)

// lineKeys maps each supported vendor to its models and the number of
// programmable line/DSS keys a provisioning file can address on the phone
// itself (all pages of the key area, no expansion module). Yealink counts
// are Wazo provd's _NB_LINEKEY (plugins/wazo_yealink/v86/common.py), Cisco
// MPP its _NB_FKEY (plugins/wazo_cisco_sip/v11_3_1/common.py; 8845/8865 as
// 8841/8861), Fanvil X6U 5 side keys + 5 DSS pages of 12 (FusionPBX's
// fanvil/x6u template, Wazo's serie_x tables), Poly VVX Wazo's _NB_FKEY
// (plugins/wazo_polycom/common/common.py, without expansion modules),
// Grandstream the fixed VPKs of Grandstream's templates; Poly Edge E and
// Snom are datasheet counts no template confirms.
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
		"x3u": 6, "x4u": 12, "x5u": 16, "x6u": 65, "x7": 10,
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
