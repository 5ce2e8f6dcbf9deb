package events

import (
	"bytes"
	"encoding/xml"
	"fmt"
)

// RFC 4235 dialog event package: content type and namespace.
const (
	DialogContentType = "application/dialog-info+xml"
	DialogNamespace   = "urn:ietf:params:xml:ns:dialog-info"
)

// Dialog states (RFC 4235 §3.7.1). Desk phones light a BLF key steadily on
// confirmed, flash it on early (recipient) and turn it off when no dialog is
// left or all are terminated.
const (
	StateTrying     = "trying"
	StateProceeding = "proceeding"
	StateEarly      = "early"
	StateConfirmed  = "confirmed"
	StateTerminated = "terminated"
)

// Directions (RFC 4235 §4.1.2): whether the watched entity placed the call
// or received it.
const (
	Initiator = "initiator"
	Recipient = "recipient"
)

// Events of a terminated dialog (RFC 4235 §4.1.2, state element).
const (
	EndCancelled = "cancelled"
	EndRejected  = "rejected"
	EndLocalBye  = "local-bye"
	EndRemoteBye = "remote-bye"
	EndTimeout   = "timeout"
	EndError     = "error"
	EndReplaced  = "replaced"
)

// Info is one dialog-info document: the complete state (Full) of Entity,
// or a partial update. Version increases by one with every NOTIFY of a
// subscription, starting at 0 (RFC 4235 §4.1.1), so a phone can drop stale
// or reordered documents.
type Info struct {
	Version uint32
	Full    bool
	Entity  string // the watched resource, a SIP URI
	Dialogs []Dialog
}

// Dialog is one dialog of the entity. ID is required; CallID, LocalTag and
// RemoteTag let a watcher build a Replaces header (directed pickup): local
// is the watched entity's side.
type Dialog struct {
	ID        string
	CallID    string
	LocalTag  string
	RemoteTag string
	Direction string // Initiator, Recipient or "" (unknown)
	State     string // one of the State constants
	Event     string // terminated only: why (End constants); "" = unknown
	Code      int    // terminated by a response: its status code; 0 = none
	Local     *Participant
	Remote    *Participant
}

// Participant is one side of a dialog (RFC 4235 §4.1.6).
type Participant struct {
	Identity string // SIP URI the participant is known as
	Display  string // display-name of Identity
	Target   string // URI to reach the participant's device (remote target), optional
}

// xml mirrors of the schema; element order follows the RFC 4235 schema
// (state, duration, replaces, referred-by, route-set, local, remote).
type infoXML struct {
	XMLName xml.Name    `xml:"urn:ietf:params:xml:ns:dialog-info dialog-info"`
	Version uint32      `xml:"version,attr"`
	State   string      `xml:"state,attr"`
	Entity  string      `xml:"entity,attr"`
	Dialogs []dialogXML `xml:"dialog"`
}

type dialogXML struct {
	ID        string          `xml:"id,attr"`
	CallID    string          `xml:"call-id,attr,omitempty"`
	LocalTag  string          `xml:"local-tag,attr,omitempty"`
	RemoteTag string          `xml:"remote-tag,attr,omitempty"`
	Direction string          `xml:"direction,attr,omitempty"`
	State     stateXML        `xml:"state"`
	Local     *participantXML `xml:"local,omitempty"`
	Remote    *participantXML `xml:"remote,omitempty"`
}

type stateXML struct {
	Event string `xml:"event,attr,omitempty"`
	Code  int    `xml:"code,attr,omitempty"`
	Value string `xml:",chardata"`
}

type participantXML struct {
	Identity *identityXML `xml:"identity,omitempty"`
	Target   *targetXML   `xml:"target,omitempty"`
}

type identityXML struct {
	Display string `xml:"display-name,attr,omitempty"`
	URI     string `xml:",chardata"`
}

type targetXML struct {
	URI string `xml:"uri,attr"`
}

// Marshal renders the document (UTF-8, with the XML declaration).
func (i Info) Marshal() []byte {
	x := infoXML{Version: i.Version, State: "partial", Entity: i.Entity}
	if i.Full {
		x.State = "full"
	}
	for _, d := range i.Dialogs {
		x.Dialogs = append(x.Dialogs, dialogXML{
			ID: d.ID, CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag,
			Direction: d.Direction,
			State:     stateXML{Event: d.Event, Code: d.Code, Value: d.State},
			Local:     participantOut(d.Local),
			Remote:    participantOut(d.Remote),
		})
	}
	var b bytes.Buffer
	b.WriteString(xml.Header)
	enc := xml.NewEncoder(&b)
	enc.Indent("", "  ")
	if err := enc.Encode(x); err != nil {
		// Only unsupported types make Encode fail; these are strings and ints.
		panic(fmt.Sprintf("events: marshal dialog-info: %v", err))
	}
	b.WriteByte('\n')
	return b.Bytes()
}

func participantOut(p *Participant) *participantXML {
	if p == nil || (p.Identity == "" && p.Target == "") {
		return nil
	}
	out := &participantXML{}
	if p.Identity != "" {
		out.Identity = &identityXML{Display: p.Display, URI: p.Identity}
	}
	if p.Target != "" {
		out.Target = &targetXML{URI: p.Target}
	}
	return out
}

// ParseInfo reads a dialog-info document (what a watcher receives); the
// root must be dialog-info in the RFC 4235 namespace.
func ParseInfo(data []byte) (Info, error) {
	var x infoXML
	if err := xml.Unmarshal(data, &x); err != nil {
		return Info{}, fmt.Errorf("dialog-info: %w", err)
	}
	if x.State != "full" && x.State != "partial" {
		return Info{}, fmt.Errorf("dialog-info: state %q is neither full nor partial", x.State)
	}
	out := Info{Version: x.Version, Full: x.State == "full", Entity: x.Entity}
	for _, d := range x.Dialogs {
		out.Dialogs = append(out.Dialogs, Dialog{
			ID: d.ID, CallID: d.CallID, LocalTag: d.LocalTag, RemoteTag: d.RemoteTag,
			Direction: d.Direction, State: d.State.Value, Event: d.State.Event, Code: d.State.Code,
			Local: participantIn(d.Local), Remote: participantIn(d.Remote),
		})
	}
	return out, nil
}

func participantIn(p *participantXML) *Participant {
	if p == nil {
		return nil
	}
	out := &Participant{}
	if p.Identity != nil {
		out.Identity, out.Display = p.Identity.URI, p.Identity.Display
	}
	if p.Target != nil {
		out.Target = p.Target.URI
	}
	return out
}
