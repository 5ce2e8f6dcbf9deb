package provisioning

import (
	"strings"

	"deskgate/daemon/directory"
)

// uaInfo is what a phone's HTTP User-Agent says about it. Every field may be
// empty: User-Agents are outside input and vary by firmware.
type uaInfo struct {
	Vendor string // "yealink", "poly", ...
	Model  string // in the directory's spelling when recognised: "yealink-t54w"
	MAC    string // normalised
}

// maxUALen bounds the User-Agent we look at; phones send well under 200 bytes.
const maxUALen = 512

// parseUserAgent recognises the User-Agent formats of the supported
// vendors' provisioning clients:
//
//	Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:01     (also 001565aabb01)
//	FileTransport PolycomVVX-VVX_450-UA/6.4.3.5027 (SN:0004f2010205) Type/Application
//	Grandstream Model HW GRP2614 SW 1.0.5.67 DevId c074ad112233
//	Cisco-CP-8851-3PCC/11.3.7 (00562b043615)
//	Fanvil X6U 2.12.1 0c383e112233
//	Mozilla/4.0 (compatible; snomD785-SIP 10.1.33.33 … 000413922D24 SXM:0 UXM:0)
//	snom710-SIP 8.7.5.35 1.1.5-IFX-05.01.12 000413741767
func parseUserAgent(ua string) uaInfo {
	if len(ua) > maxUALen {
		ua = ua[:maxUALen]
	}
	f := strings.Fields(ua)
	if len(f) == 0 {
		return uaInfo{}
	}
	lower := strings.ToLower(ua)
	switch {
	case strings.HasPrefix(lower, "yealink "):
		return yealinkUA(f)
	case strings.HasPrefix(lower, "filetransport poly"):
		return polyUA(f[1], ua)
	case strings.HasPrefix(lower, "grandstream model hw "):
		return grandstreamUA(f)
	case strings.HasPrefix(lower, "cisco-cp-"):
		return ciscoUA(f)
	case strings.HasPrefix(lower, "fanvil "):
		return fanvilUA(f)
	case strings.Contains(lower, "compatible; snom"), strings.HasPrefix(lower, "snom"):
		return snomUA(lower)
	}
	return uaInfo{}
}

// known returns vendor-model when the directory knows that model.
func known(vendor, model string) string {
	m := vendor + "-" + model
	if model == "" || !directory.KnownModel(m) {
		return ""
	}
	return m
}

func normalMAC(s string) string {
	if len(s) != 12 && len(s) != 17 {
		return ""
	}
	mac, err := directory.NormalizeMAC(s)
	if err != nil {
		return ""
	}
	return mac
}

func yealinkUA(f []string) uaInfo {
	info := uaInfo{Vendor: "yealink"}
	if len(f) >= 2 {
		info.Model = known("yealink", strings.TrimPrefix(strings.ToLower(f[1]), "sip-"))
	}
	if len(f) >= 3 {
		info.MAC = normalMAC(f[len(f)-1])
	}
	return info
}

// polyUA reads "PolycomVVX-VVX_450-UA/…" and "(SN:0004f2010205)".
func polyUA(product, ua string) uaInfo {
	info := uaInfo{Vendor: "poly"}
	if _, rest, ok := strings.Cut(product, "-"); ok {
		model, _, _ := strings.Cut(strings.ToLower(rest), "-ua/")
		if strings.HasPrefix(model, "edge_") {
			model = strings.Replace(model, "_", "-", 1)
		}
		info.Model = known("poly", strings.ReplaceAll(model, "_", ""))
	}
	if _, rest, ok := strings.Cut(ua, "(SN:"); ok {
		if sn, _, ok := strings.Cut(rest, ")"); ok {
			info.MAC = normalMAC(sn)
		}
	}
	return info
}

func grandstreamUA(f []string) uaInfo {
	info := uaInfo{Vendor: "grandstream"}
	if len(f) >= 4 {
		info.Model = known("grandstream", strings.ToLower(f[3]))
	}
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "DevId" {
			info.MAC = normalMAC(f[i+1])
		}
	}
	return info
}

// ciscoUA reads "Cisco-CP-8851-3PCC/11.3.7 (00562b043615)".
func ciscoUA(f []string) uaInfo {
	info := uaInfo{Vendor: "cisco"}
	product, _, _ := strings.Cut(f[0], "/")
	parts := strings.Split(product, "-")
	if len(parts) >= 3 {
		info.Model = known("cisco", strings.ToLower(parts[2]))
	}
	if len(f) >= 2 {
		if h, ok := strings.CutPrefix(f[1], "("); ok {
			if h, ok = strings.CutSuffix(h, ")"); ok && len(h) == 12 {
				info.MAC = normalMAC(h)
			}
		}
	}
	return info
}

// fanvilUA reads "Fanvil X6U 2.12.1 0c383e112233" (some firmware appends ')').
func fanvilUA(f []string) uaInfo {
	info := uaInfo{Vendor: "fanvil"}
	if len(f) >= 2 {
		model, _, _ := strings.Cut(strings.ToLower(f[1]), "-")
		info.Model = known("fanvil", model)
	}
	if len(f) >= 3 {
		last := strings.TrimSuffix(f[len(f)-1], ")")
		if len(last) == 12 {
			info.MAC = normalMAC(last)
		}
	}
	return info
}

// snomUA reads the model from "snomD785-SIP" and the MAC from the first
// later word of exactly 12 hex digits (Wazo's captures of D7xx and 7xx
// firmware put it after the version words: "… 000413922D24 SXM:0").
func snomUA(lower string) uaInfo {
	rest := lower
	if _, r, ok := strings.Cut(lower, "compatible; snom"); ok {
		rest = r
	} else {
		rest = strings.TrimPrefix(lower, "snom")
	}
	model, after, _ := strings.Cut(rest, "-sip")
	info := uaInfo{Vendor: "snom", Model: known("snom", model)}
	for _, w := range strings.Fields(after) {
		w = strings.TrimRight(w, ");")
		if len(w) == 12 {
			if mac := normalMAC(w); mac != "" {
				info.MAC = mac
				break
			}
		}
	}
	return info
}
