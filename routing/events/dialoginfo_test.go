package events

import (
	"encoding/xml"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// node is a parsed XML element, for checking documents against the
// RFC 4235 §4 schema.
type node struct {
	name     xml.Name
	attrs    map[string]string
	children []*node
	text     string
}

func parseTree(t *testing.T, data []byte) *node {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(data)))
	var stack []*node
	var root *node
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		switch tk := tok.(type) {
		case xml.StartElement:
			n := &node{name: tk.Name, attrs: map[string]string{}}
			for _, a := range tk.Attr {
				if a.Name.Space == "" {
					n.attrs[a.Name.Local] = a.Value
				}
			}
			if len(stack) > 0 {
				p := stack[len(stack)-1]
				p.children = append(p.children, n)
			} else {
				root = n
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tk)
			}
		}
	}
	if root == nil {
		t.Fatalf("no root element in %s", data)
	}
	return root
}

// schemaProblems checks a dialog-info document against the RFC 4235
// schema: root element and namespace, required attributes and their types,
// enumerations, the order and multiplicity of dialog children, participant
// children, and the state element's event/code attributes.
func schemaProblems(root *node) []string {
	var p []string
	bad := func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) }
	if root.name.Space != DialogNamespace || root.name.Local != "dialog-info" {
		bad("root %v", root.name)
	}
	if _, err := strconv.ParseUint(root.attrs["version"], 10, 64); err != nil {
		bad("version %q not a nonNegativeInteger", root.attrs["version"])
	}
	if s := root.attrs["state"]; s != "full" && s != "partial" {
		bad("state %q", s)
	}
	if root.attrs["entity"] == "" {
		bad("entity missing")
	}
	ids := map[string]bool{}
	for _, d := range root.children {
		if d.name.Space != DialogNamespace || d.name.Local != "dialog" {
			bad("child %v of dialog-info", d.name)
			continue
		}
		if d.attrs["id"] == "" || ids[d.attrs["id"]] {
			bad("dialog id %q missing or repeated", d.attrs["id"])
		}
		ids[d.attrs["id"]] = true
		if dir, ok := d.attrs["direction"]; ok && dir != Initiator && dir != Recipient {
			bad("direction %q", dir)
		}
		p = append(p, dialogProblems(d)...)
	}
	return p
}

func dialogProblems(d *node) []string {
	var p []string
	order := []string{"state", "duration", "replaces", "referred-by", "route-set", "local", "remote"}
	last := -1
	for _, c := range d.children {
		i := slices.Index(order, c.name.Local)
		if i < 0 || c.name.Space != DialogNamespace {
			p = append(p, fmt.Sprintf("dialog child %v", c.name))
			continue
		}
		if i <= last {
			p = append(p, fmt.Sprintf("dialog child %s out of order or repeated", c.name.Local))
		}
		last = i
		switch c.name.Local {
		case "state":
			p = append(p, stateProblems(c)...)
		case "local", "remote":
			p = append(p, participantProblems(c)...)
		}
	}
	if len(d.children) == 0 || d.children[0].name.Local != "state" {
		p = append(p, "dialog without state as its first child")
	}
	return p
}

func stateProblems(s *node) []string {
	var p []string
	states := []string{StateTrying, StateProceeding, StateEarly, StateConfirmed, StateTerminated}
	if !slices.Contains(states, strings.TrimSpace(s.text)) {
		p = append(p, fmt.Sprintf("state %q", s.text))
	}
	if ev, ok := s.attrs["event"]; ok && !slices.Contains([]string{EndCancelled, EndRejected, EndReplaced,
		EndLocalBye, EndRemoteBye, EndError, EndTimeout}, ev) {
		p = append(p, fmt.Sprintf("state event %q", ev))
	}
	if c, ok := s.attrs["code"]; ok {
		if n, err := strconv.Atoi(c); err != nil || n < 100 || n > 699 {
			p = append(p, fmt.Sprintf("state code %q", c))
		}
	}
	return p
}

func participantProblems(n *node) []string {
	var p []string
	order := []string{"identity", "target", "session-description", "cseq"}
	last := -1
	for _, c := range n.children {
		i := slices.Index(order, c.name.Local)
		if i <= last {
			p = append(p, fmt.Sprintf("%s child %s unknown, out of order or repeated", n.name.Local, c.name.Local))
		}
		last = max(last, i)
		if c.name.Local == "identity" && !strings.Contains(c.text, ":") {
			p = append(p, fmt.Sprintf("identity %q is not a URI", c.text))
		}
		if c.name.Local == "target" && c.attrs["uri"] == "" {
			p = append(p, "target without uri")
		}
	}
	return p
}

func TestDialogInfoSchema(t *testing.T) {
	caller := &Participant{Identity: "sip:+15559990000@hq.example.test", Display: `Alice "Al" <Caller> & Co`,
		Target: "sip:+15559990000@192.0.2.7:5060"}
	tests := []struct {
		name string
		info Info
	}{
		{name: "idle (no dialogs)", info: Info{Version: 0, Full: true, Entity: "sip:1010@hq.example.test"}},
		{name: "ringing with caller and pickup tags", info: Info{Version: 1, Full: true, Entity: "sip:1010@hq.example.test",
			Dialogs: []Dialog{{ID: "d1", CallID: "abc@host", LocalTag: "lt", RemoteTag: "rt", Direction: Recipient,
				State: StateEarly, Remote: caller, Local: &Participant{Identity: "sip:1010@hq.example.test"}}}}},
		{name: "confirmed outgoing, partial", info: Info{Version: 7, Entity: "sip:2000@hq.example.test",
			Dialogs: []Dialog{{ID: "d2", Direction: Initiator, State: StateConfirmed}}}},
		{name: "terminated by a rejection", info: Info{Version: 4294967295, Full: true, Entity: "sip:away-2000@hq.example.test",
			Dialogs: []Dialog{{ID: "d3", State: StateTerminated, Event: EndRejected, Code: 486},
				{ID: "d4", State: StateTerminated, Event: EndRemoteBye}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := tt.info.Marshal()
			if !strings.HasPrefix(string(body), `<?xml version="1.0" encoding="UTF-8"?>`) {
				t.Errorf("no XML declaration: %s", body)
			}
			if p := schemaProblems(parseTree(t, body)); len(p) > 0 {
				t.Errorf("schema problems %q in\n%s", p, body)
			}
			back, err := ParseInfo(body)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, tt.info) {
				t.Errorf("round trip\n got %+v\nwant %+v", back, tt.info)
			}
		})
	}
}

// TestDialogInfoRFCExample checks the schema checker itself and ParseInfo
// against the example of RFC 4235 §5.
func TestDialogInfoRFCExample(t *testing.T) {
	const rfc = `<?xml version="1.0"?>
<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:alice@example.com">
  <dialog id="as7d900as8" call-id="a84b4c76e66710" local-tag="1928301774" direction="initiator">
    <state>early</state>
  </dialog>
</dialog-info>`
	if p := schemaProblems(parseTree(t, []byte(rfc))); len(p) > 0 {
		t.Fatalf("RFC example has problems %q", p)
	}
	got, err := ParseInfo([]byte(rfc))
	if err != nil {
		t.Fatal(err)
	}
	want := Info{Full: true, Entity: "sip:alice@example.com", Dialogs: []Dialog{{ID: "as7d900as8",
		CallID: "a84b4c76e66710", LocalTag: "1928301774", Direction: Initiator, State: StateEarly}}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	broken := []struct{ name, doc string }{
		{"wrong namespace", `<dialog-info xmlns="urn:x" version="0" state="full" entity="sip:a@b"/>`},
		{"state after local", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:a@b"><dialog id="1"><local/><state>early</state></dialog></dialog-info>`},
		{"unknown state", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="full" entity="sip:a@b"><dialog id="1"><state>ringing</state></dialog></dialog-info>`},
		{"negative version", `<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="-1" state="full" entity="sip:a@b"/>`},
	}
	for _, b := range broken {
		t.Run(b.name, func(t *testing.T) {
			if p := schemaProblems(parseTree(t, []byte(b.doc))); len(p) == 0 {
				t.Errorf("schema check accepted %s", b.doc)
			}
		})
	}
	if _, err := ParseInfo([]byte(`<dialog-info xmlns="urn:ietf:params:xml:ns:dialog-info" version="0" state="both" entity="x"/>`)); err == nil {
		t.Error("ParseInfo accepted state=both")
	}
}
