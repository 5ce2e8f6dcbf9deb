package directory

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

func decodeJSON(data []byte) (*Document, []Problem) {
	data = bytes.TrimPrefix(data, []byte(utf8BOM))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, []Problem{emptyProblem()}
	}
	if probs := checkJSON(data); len(probs) > 0 {
		return nil, probs
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var doc Document
	if err := dec.Decode(&doc); err != nil {
		return nil, []Problem{jsonProblem(data, err)}
	}
	if isEmpty(&doc) {
		return nil, []Problem{emptyProblem()}
	}
	return &doc, nil
}

// jsonWalker checks a JSON document's keys against the schema before
// encoding/json decodes it: encoding/json matches keys case-insensitively,
// keeps the last of duplicate keys and says neither where an unknown key is
// nor which object holds it; a typo must be an error that says where.
type jsonWalker struct {
	data   []byte
	dec    *json.Decoder
	probs  []Problem
	fields map[reflect.Type]map[string]reflect.Type // struct -> json key -> field type
}

// keys returns the json keys of struct type t and their field types.
func (w *jsonWalker) keys(t reflect.Type) map[string]reflect.Type {
	if m, ok := w.fields[t]; ok {
		return m
	}
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			m[name] = t.Field(i).Type
		}
	}
	w.fields[t] = m
	return m
}

func checkJSON(data []byte) []Problem {
	w := &jsonWalker{data: data, dec: json.NewDecoder(bytes.NewReader(data)), fields: make(map[reflect.Type]map[string]reflect.Type)}
	if err := w.value(reflect.TypeFor[Document](), ""); err != nil {
		return append(w.probs, jsonProblem(data, err))
	}
	switch _, err := w.dec.Token(); {
	case err == nil:
		w.probs = append(w.probs, Problem{
			Entries: []string{w.position(tokenStart(data, w.dec.InputOffset()))},
			Msg:     "unexpected data after the JSON document; the office directory must be a single object",
		})
	case !errors.Is(err, io.EOF):
		w.probs = append(w.probs, jsonProblem(data, err))
	}
	return w.probs
}

// value reads one value whose Go type is t (nil: anything) at path.
func (w *jsonWalker) value(t reflect.Type, path string) error {
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	delim, isDelim := tok.(json.Delim)
	switch {
	case t == reflect.TypeFor[Duration]():
		if s, ok := tok.(string); ok {
			if _, err := parseDuration(s); err != nil {
				w.add(path, w.dec.InputOffset(), err.Error())
			}
		}
	case t == reflect.TypeFor[Schedule]() && isDelim && delim == '{':
		// Walked as written, so a day given twice is caught too.
		return w.object(reflect.TypeFor[map[string][]string](), path)
	case t == nil || t == reflect.TypeFor[Schedule]():
	case isDelim && delim == '{' && (t.Kind() == reflect.Struct || t.Kind() == reflect.Map):
		return w.object(t, path)
	case isDelim && delim == '[' && t.Kind() == reflect.Slice:
		for i := 0; w.dec.More(); i++ {
			if err := w.value(t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		_, err := w.dec.Token()
		return err
	}
	// Anything else is left to encoding/json, which reports type mismatches.
	return w.skip(tok)
}

// object reads the members of a struct or map object after its '{'.
func (w *jsonWalker) object(t reflect.Type, path string) error {
	var known map[string]reflect.Type
	if t.Kind() == reflect.Struct {
		known = w.keys(t)
	}
	seen := make(map[string]bool)
	for w.dec.More() {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		off := w.dec.InputOffset()
		sub := strings.TrimPrefix(path+"."+key, ".")
		if seen[key] {
			w.add(objectName(path), off, fmt.Sprintf("key %q appears twice", key))
		}
		seen[key] = true
		elem := t
		if t.Kind() == reflect.Map {
			elem = t.Elem()
		} else if ft, ok := known[key]; ok {
			elem = ft
		} else {
			w.add(objectName(path), off, unknownJSONKey(key, t))
			elem = nil
		}
		if err := w.value(elem, sub); err != nil {
			return err
		}
	}
	_, err := w.dec.Token()
	return err
}

// skip consumes the rest of a value whose first token is tok.
func (w *jsonWalker) skip(tok json.Token) error {
	if d, ok := tok.(json.Delim); !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := w.dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// add records a problem about the token that ends at off.
func (w *jsonWalker) add(entry string, off int64, msg string) {
	pos := jsonPosition(w.data, tokenStart(w.data, off))
	w.probs = append(w.probs, Problem{Entries: []string{entry + " (" + pos + ")"}, Msg: msg})
}

func (w *jsonWalker) position(off int64) string { return jsonPosition(w.data, off) }

// tokenStart returns where the JSON token ending at off starts: the opening
// quote of a string, the first byte of a number or literal, or the byte
// before off for anything else. Positions then point at what is wrong
// rather than just past it.
func tokenStart(data []byte, off int64) int64 {
	off = min(max(off, 0), int64(len(data)))
	if off == 0 {
		return 0
	}
	i := off - 1
	if data[i] == '"' {
		for i--; i >= 0; i-- {
			if data[i] == '"' && !escaped(data, i) {
				return i
			}
		}
		return 0
	}
	for i > 0 && strings.IndexByte(" \t\r\n,:[]{}\"", data[i-1]) < 0 {
		i--
	}
	return i
}

// escaped reports whether data[i] is preceded by an odd number of backslashes.
func escaped(data []byte, i int64) bool {
	n := 0
	for j := i - 1; j >= 0 && data[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

func jsonPosition(data []byte, off int64) string {
	off = min(max(off, 0), int64(len(data)))
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - int64(bytes.LastIndexByte(data[:off], '\n'))
	return fmt.Sprintf("line %d, column %d", line, col)
}

func objectName(path string) string {
	if path == "" {
		return "document"
	}
	return path
}

func unknownJSONKey(key string, t reflect.Type) string {
	fields := fieldNames(t, "json")
	for _, f := range fields {
		if strings.EqualFold(f, key) {
			return fmt.Sprintf("unknown key %q (keys are case-sensitive: did you mean %q?)", key, f)
		}
	}
	msg := fmt.Sprintf("unknown key %q", key)
	if _, what, ok := schemaType(t.String()); ok {
		msg += fmt.Sprintf(" in %s (known keys: %s)", what, strings.Join(fields, ", "))
	}
	return msg
}

// jsonProblem turns an encoding/json error into a Problem with a position.
func jsonProblem(data []byte, err error) Problem {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return Problem{Entries: []string{jsonPosition(data, syn.Offset)}, Msg: "invalid JSON: " + strings.TrimPrefix(syn.Error(), "json: ")}
	case errors.As(err, &typ):
		entry := objectName(typ.Field)
		return Problem{
			Entries: []string{entry + " (" + jsonPosition(data, tokenStart(data, typ.Offset)) + ")"},
			Msg:     fmt.Sprintf("expected %s, found %s", describeGoType(typ.Type.String()), typ.Value),
		}
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return Problem{Msg: "invalid JSON: the document ends too early"}
	}
	return Problem{Msg: strings.TrimPrefix(err.Error(), "json: ")}
}
