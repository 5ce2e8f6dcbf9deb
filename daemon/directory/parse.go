package directory

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Problem is one reason a document is invalid. Entries names the entries
// involved, the one the problem is about first ("users[2] (jsmith)",
// "schedules.business", "line 12" for a problem found while reading the
// file); Msg says what is wrong and names any other entry involved.
type Problem struct {
	Entries []string
	Msg     string
}

// String formats the problem on one line: "<first entry>: <message>".
func (p Problem) String() string {
	if len(p.Entries) == 0 {
		return p.Msg
	}
	return p.Entries[0] + ": " + p.Msg
}

// ValidationError is returned by Parse for a document that cannot be
// applied; it lists every problem found.
type ValidationError struct {
	Problems []Problem
}

// Error lists the problems, one a line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

const utf8BOM = "\xef\xbb\xbf"

// Parse reads an office document, JSON if its first non-space byte is '{'
// and YAML otherwise, normalises it (MACs, model names), validates it and
// returns its Snapshot. Any problem gives a *ValidationError listing all of
// them. The Snapshot keeps its own copy of data.
func Parse(data []byte) (*Snapshot, error) {
	if t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte(utf8BOM)), " \t\r\n"); len(t) > 0 && t[0] == '{' {
		return ParseJSON(data)
	}
	return ParseYAML(data)
}

// ParseYAML is Parse for YAML. Unknown keys, duplicate keys and a second
// document ("---") are problems, reported with their line. When the file
// cannot be read into the schema, only those problems are reported: the
// rules are checked once it reads cleanly.
func ParseYAML(data []byte) (*Snapshot, error) {
	doc, probs := decodeYAML(data)
	if len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	return build(doc, data)
}

// ParseJSON is Parse for JSON, with the same schema and the same strictness:
// unknown keys (matched case-sensitively), duplicate keys and trailing data
// are problems, reported with their line and column.
func ParseJSON(data []byte) (*Snapshot, error) {
	doc, probs := decodeJSON(data)
	if len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	return build(doc, data)
}

func build(doc *Document, data []byte) (*Snapshot, error) {
	normalize(doc)
	probs, loc := validate(doc)
	if len(probs) > 0 {
		return nil, &ValidationError{Problems: probs}
	}
	return newSnapshot(*doc, bytes.Clone(data), loc), nil
}

// normalize rewrites what has several accepted spellings into the one the
// Snapshot indexes: MACs lower-case with colons, models lower-case. Invalid
// MACs are left as written for Validate to report.
func normalize(doc *Document) {
	for i := range doc.Phones {
		p := &doc.Phones[i]
		if m, err := NormalizeMAC(p.MAC); err == nil {
			p.MAC = m
		}
		p.Model = NormalizeModel(p.Model)
	}
}

func emptyProblem() Problem {
	return Problem{Msg: "the document is empty: expected plan, timezone, schedules, users, phones, departments and pairings"}
}

func isEmpty(d *Document) bool {
	return d.Version == "" && d.Plan == "" && d.Timezone == "" && len(d.Schedules) == 0 &&
		len(d.Users) == 0 && len(d.Phones) == 0 && len(d.Departments) == 0 && len(d.Pairings) == 0
}

func decodeYAML(data []byte) (*Document, []Problem) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc Document
	err := dec.Decode(&doc)
	if errors.Is(err, io.EOF) {
		return nil, []Problem{emptyProblem()}
	}
	var probs []Problem
	var te *yaml.TypeError
	switch {
	case errors.As(err, &te):
		for _, msg := range te.Errors {
			probs = append(probs, yamlProblem(msg))
		}
	case err != nil:
		// A syntax error leaves the parser unusable: stop here.
		return nil, []Problem{yamlProblem(err.Error())}
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		probs = append(probs, Problem{
			Entries: []string{fmt.Sprintf("line %d", next.Line)},
			Msg:     "a second YAML document starts here (after ---); the office directory must be a single document",
		})
	case !errors.Is(err, io.EOF):
		probs = append(probs, yamlProblem(err.Error()))
	}
	if len(probs) == 0 && isEmpty(&doc) {
		probs = append(probs, emptyProblem())
	}
	return &doc, probs
}

// yamlProblem turns one yaml.v3 message ("line 12: field x not found in
// type directory.User") into a Problem an admin can act on.
func yamlProblem(msg string) Problem {
	msg = strings.TrimPrefix(msg, "yaml: ")
	rest, ok := strings.CutPrefix(msg, "line ")
	if !ok {
		return Problem{Msg: msg}
	}
	num, text, ok := strings.Cut(rest, ": ")
	if !ok || num == "" || strings.Trim(num, "0123456789") != "" {
		return Problem{Msg: msg}
	}
	return Problem{Entries: []string{"line " + num}, Msg: friendlyYAML(text)}
}

func friendlyYAML(text string) string {
	if f, ok := strings.CutPrefix(text, "field "); ok {
		if name, typ, ok := strings.Cut(f, " not found in type "); ok {
			return unknownKeyMsg(name, typ)
		}
	}
	if f, ok := strings.CutPrefix(text, "cannot unmarshal !!"); ok {
		if i := strings.LastIndex(f, " into "); i >= 0 {
			tag, val, _ := strings.Cut(f[:i], " ")
			return fmt.Sprintf("expected %s, found %s", describeGoType(f[i+len(" into "):]), describeYAMLValue(tag, val))
		}
	}
	return text
}

func describeYAMLValue(tag, val string) string {
	val = strings.Trim(val, "`")
	switch tag {
	case "seq":
		return "a list"
	case "map":
		return "a mapping of keys"
	case "null":
		return "nothing"
	case "str":
		return fmt.Sprintf("the text %q", val)
	case "int", "float":
		return "the number " + val
	case "bool":
		return "the value " + val
	}
	return fmt.Sprintf("%s %s", tag, val)
}
