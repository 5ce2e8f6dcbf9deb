package provisioning

import (
	"bytes"
	"fmt"
	"strings"
)

// xmlFile writes the XML configuration formats (Poly, Grandstream, Snom,
// Cisco), escaping every value.
type xmlFile struct {
	b bytes.Buffer
}

func (f *xmlFile) header() {
	f.b.WriteString(`<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n")
}

// comment writes <!-- text -->; "--" cannot end up inside.
func (f *xmlFile) comment(format string, args ...any) {
	s := strings.ReplaceAll(oneLine(fmt.Sprintf(format, args...)), "--", "- -")
	f.b.WriteString("<!-- " + s + " -->\n")
}

// attr writes one indented name="value" line of an element's attributes.
func (f *xmlFile) attr(name string, value any) {
	f.b.WriteString("  " + name + `="` + escapeXML(fmt.Sprint(value)) + `"` + "\n")
}

// elem writes <name>value</name> on its own line, indented by depth.
func (f *xmlFile) elem(depth int, name string, value any) {
	f.b.WriteString(strings.Repeat("  ", depth) + "<" + name + ">" + escapeXML(fmt.Sprint(value)) + "</" + name + ">\n")
}

func (f *xmlFile) raw(s string) { f.b.WriteString(s) }

func (f *xmlFile) bytes() []byte { return f.b.Bytes() }

// escapeXML escapes text for element content and double-quoted attributes
// and drops control characters, which XML 1.0 does not allow.
func escapeXML(s string) string {
	var b strings.Builder
	for _, r := range oneLine(s) {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '\'':
			b.WriteString("&apos;")
		case 0xFFFE, 0xFFFF:
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
