package directory

import (
	"fmt"
	"reflect"
	"strings"
)

// schemaType returns the model type a yaml.v3 or encoding/json message names
// ("directory.User"), so problems can list the keys it accepts.
func schemaType(name string) (reflect.Type, string, bool) {
	switch strings.TrimPrefix(name, "directory.") {
	case "Document":
		return reflect.TypeFor[Document](), "the office document", true
	case "User":
		return reflect.TypeFor[User](), "a user", true
	case "Phone":
		return reflect.TypeFor[Phone](), "a phone", true
	case "Department":
		return reflect.TypeFor[Department](), "a department", true
	case "Pairing":
		return reflect.TypeFor[Pairing](), "a pairing", true
	}
	return nil, "", false
}

// fieldNames lists the keys of a model struct, as tagged for format
// ("yaml" or "json"), in declaration order.
func fieldNames(t reflect.Type, format string) []string {
	out := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get(format), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

func unknownKeyMsg(key, typeName string) string {
	t, what, ok := schemaType(typeName)
	if !ok {
		return fmt.Sprintf("unknown key %q", key)
	}
	return fmt.Sprintf("unknown key %q in %s (known keys: %s)", key, what, strings.Join(fieldNames(t, "yaml"), ", "))
}

// describeGoType names a Go type from a decoder message the way the
// documentation does.
func describeGoType(name string) string {
	switch name {
	case "string":
		return "a single value"
	case "[]string":
		return "a list of values"
	case "map[string]directory.Schedule":
		return "a mapping of schedule names to schedules"
	}
	if elem, ok := strings.CutPrefix(name, "[]"); ok {
		if _, what, ok := schemaType(elem); ok {
			return "a list, each item " + what
		}
	}
	if _, what, ok := schemaType(name); ok {
		return what + " (a mapping of keys)"
	}
	return name
}
