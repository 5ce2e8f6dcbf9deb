package discovery

import (
	"net"
	"strings"

	"deskgate/daemon/directory"
)

// TXT keys that may carry a phone's identity, in order of preference. None
// is standard for phones: these are the DNS-SD conventions other devices use
// (printers' "ty"/"product"/"usb_MFG", AirPlay's "deviceid", plain
// "mac"/"model"/"vendor").
func txtMACKeys() []string {
	return []string{"mac", "macaddr", "mac_addr", "macaddress", "mac_address", "hwaddr", "hw_addr", "deviceid", "device_id"}
}

func txtVendorKeys() []string {
	return []string{"vendor", "manufacturer", "mfg", "usb_mfg", "mf", "brand"}
}

func txtModelKeys() []string {
	return []string{"model", "md", "product", "ty", "usb_mdl", "mdl"}
}

// parseTXT turns TXT strings into lower-case keys and values; the first
// occurrence of a key wins and a key without "=" has an empty value
// (RFC 6763 6.3–6.4).
func parseTXT(txt []string) map[string]string {
	out := make(map[string]string, len(txt))
	for _, t := range txt {
		k, v, _ := strings.Cut(t, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if k == "" {
			continue
		}
		if _, dup := out[k]; !dup {
			out[k] = strings.TrimSpace(v)
		}
	}
	return out
}

func firstOf(m map[string]string, keys []string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}

// mdnsSighting reads what a browse answer says about a phone: the MAC from
// a TXT key, else from the instance name, else from the host name; vendor
// and model from TXT keys, else from words of the instance name (a model
// only when the directory knows it). The MAC is "" when none was found.
func mdnsSighting(name, host string, txt []string, v4 net.IP, v6 *net.IPAddr) sighting {
	kv := parseTXT(txt)
	instance := instanceLabel(name)
	var s sighting
	if raw := firstOf(kv, txtMACKeys()); raw != "" {
		if mac, err := directory.NormalizeMAC(raw); err == nil {
			s.MAC = mac
		}
	}
	for _, text := range []string{instance, host} {
		if s.MAC != "" {
			break
		}
		s.MAC, _ = macFromText(text)
	}
	s.Vendor, s.Model = identify(firstOf(kv, txtVendorKeys()), firstOf(kv, txtModelKeys()))
	if s.Vendor == "" {
		s.Vendor = vendorOf(strings.ToLower(instance))
	}
	if s.Model == "" && s.Vendor != "" {
		s.Model = modelFromText(s.Vendor, instance)
	}
	switch {
	case v4 != nil:
		s.Address = v4.String()
	case v6 != nil:
		s.Address = v6.String()
	}
	return s
}

// modelFromText finds a word of s naming a model the directory knows
// ("Yealink SIP-T54W 805EC0123456" → "yealink-t54w").
func modelFromText(vendor, s string) string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return r == ' ' || r == '(' || r == ')' || r == ',' || r == '/'
	})
	for _, w := range words {
		if m := canonicalModel(vendor, w); directory.KnownModel(m) {
			return m
		}
	}
	return ""
}

// instanceLabel returns the first label of a DNS-SD service instance name
// ("Yealink\ T54W._sip._udp.local." → "Yealink T54W"), undoing the
// presentation-format escapes (\. \\ \DDD) the DNS library writes.
func instanceLabel(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '.':
			return b.String()
		case c == '\\' && i+3 < len(name) && isDigits(name[i+1:i+4]):
			n := int(name[i+1]-'0')*100 + int(name[i+2]-'0')*10 + int(name[i+3]-'0')
			if n < 256 {
				b.WriteByte(byte(n))
			}
			i += 3
		case c == '\\' && i+1 < len(name):
			b.WriteByte(name[i+1])
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
