package provisioning

import (
	"bytes"
	"fmt"
	"strings"
)

// kvFile writes "key = value" configuration files (Yealink .cfg, Fanvil).
type kvFile struct {
	b bytes.Buffer
}

// comment writes "## text" lines; text comes from us, never from the directory
// unless cleaned.
func (f *kvFile) comment(format string, args ...any) {
	f.b.WriteString("## ")
	f.b.WriteString(oneLine(fmt.Sprintf(format, args...)))
	f.b.WriteByte('\n')
}

func (f *kvFile) blank() { f.b.WriteByte('\n') }

// set writes key = value; the value is cleaned of line breaks and control
// characters so directory data cannot inject further parameters.
func (f *kvFile) set(key string, value any) {
	fmt.Fprintf(&f.b, "%s = %s\n", key, oneLine(fmt.Sprint(value)))
}

func (f *kvFile) bytes() []byte { return f.b.Bytes() }

// oneLine removes control characters (line breaks included) and trims.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s))
}

// transportCode maps our transport name to a vendor's code table
// (udp, tcp, tls order); unknown names get the udp code.
func transportCode(t string, udp, tcp, tls string) string {
	switch t {
	case "tcp":
		return tcp
	case "tls":
		return tls
	}
	return udp
}
