package provisioning

import (
	"fmt"

	"deskgate/daemon/directory"
)

// KeyType is what a programmable line key does.
type KeyType int

// Key types, vendor independent. Renderers map each to their own codes.
const (
	KeyLine          KeyType = iota + 1 // the phone user's own line (account 1)
	KeySharedLine                       // a department line on an operator's phone: state, calls out as the department
	KeyExecutiveLine                    // an executive's line on an assistant's phone: state, pickup, calls out as the executive
	KeyBLF                              // busy lamp field on an extension, with directed pickup
	KeyDND                              // do not disturb, synchronised with the server
	KeyAway                             // away toggle: BLF on a resource the daemon serves
	KeyVoicemail                        // dials the voicemail of one account
)

func (t KeyType) String() string {
	switch t {
	case KeyLine:
		return "line"
	case KeySharedLine:
		return "shared-line"
	case KeyExecutiveLine:
		return "executive-line"
	case KeyBLF:
		return "blf"
	case KeyDND:
		return "dnd"
	case KeyAway:
		return "away"
	case KeyVoicemail:
		return "voicemail"
	}
	return fmt.Sprintf("KeyType(%d)", int(t))
}

// Account is one SIP account (registration) configured on a phone. Every
// account authenticates with the phone user's own credentials (AuthUser and
// that user's password), so a phone file never holds anyone else's secret;
// shared and executive lines differ only in the address they register and
// call out as.
type Account struct {
	Index       int     // 1-based; 1 is the phone user's own line
	Type        KeyType // KeyLine, KeySharedLine or KeyExecutiveLine
	Extension   string  // address-of-record user part: what the account registers and calls out as
	AuthUser    string  // digest username: the phone user's extension
	DisplayName string
	Label       string
	Owner       string // id of the user or department the line belongs to
	MWI         bool   // subscribe to message-summary for Extension
	// Shared: the account is a BroadWorks shared call appearance (the
	// phone subscribes call-info and line-seize to it). Only department
	// and executive lines on a model whose renderer documents SCA
	// (LayoutOptions.SCA); elsewhere those lines are private and get a
	// BLF key next to their line key.
	Shared bool
}

// Key is one programmable line key, in display order.
type Key struct {
	Type      KeyType
	Label     string
	Account   int    // account the key acts on (lines, voicemail) or subscribes from (BLF, away)
	Extension string // the line's, monitored or mailbox extension; for away keys the resource's user part
	URI       string // BLF and away keys: the monitored resource
	Target    string // id of the user or department the key is about; "" for "all departments"
	Pickup    bool   // BLF: pressing the key while the extension rings picks the call up
	Shared    bool   // line keys: the account is a shared call appearance (Account.Shared)
}

// PhoneLayout is everything a renderer needs to write one phone's files,
// apart from the password: the accounts, the keys and what did not fit. It
// holds no secret, so it can be compared, logged and diffed freely.
type PhoneLayout struct {
	MAC       string // normalised, "00:15:65:aa:bb:01"
	Model     string // "yealink-t54w"
	Vendor    string // "yealink"
	User      string // id of the phone's user
	Extension string // the user's extension (SIP username)
	Name      string // the user's display name (id when the directory has none)
	Accounts  []Account
	Keys      []Key
	Warnings  []string // keys or lines that could not be placed, one sentence each
}

// LayoutOptions are what a phone model offers. Renderers provide them per
// model (layoutOptionsFor); tests may set them directly.
type LayoutOptions struct {
	Domain       string // SIP domain, for the away resources' URIs
	Keys         int    // programmable line keys (all pages); see directory.LineKeys
	Accounts     int    // SIP accounts the model supports; lines beyond it become BLF keys
	DNDKey       bool   // give DND a line key (false where the phone has its own DND key)
	VoicemailKey bool   // give voicemail line keys (false where the phone has a messages key per line)
	// SCA: department and executive lines are BroadWorks shared call
	// appearances. Without it they are private lines, each followed by a
	// BLF key (with pickup) on the line's extension, so the phone never
	// asks for an event package it does not run.
	SCA bool
}

// AwayURI is the resource an away key monitors and dials: one department
// (its extension) or, with dept "", all of the user's departments.
func AwayURI(deptExt, domain string) string {
	if deptExt == "" {
		return "sip:away@" + domain
	}
	return "sip:away-" + deptExt + "@" + domain
}

// Layout computes the accounts and keys of the phone with that MAC: its
// user's own line, a shared line per department the user operates, an
// executive line per executive the user actively assists (a BLF key with
// pickup once the model runs out of accounts), DND, away keys and
// voicemail, in that order of priority; keys beyond opts.Keys are left
// out with a warning each (Warnings, shown by deskgatectl phones and
// logged when the phone fetches its file). It is pure; ok is false for a
// MAC not in snap.
func Layout(snap *directory.Snapshot, mac string, opts LayoutOptions) (PhoneLayout, bool) {
	p, ok := snap.Phone(mac)
	if !ok {
		return PhoneLayout{}, false
	}
	u, ok := snap.User(p.User)
	if !ok {
		return PhoneLayout{}, false
	}
	b := layoutBuilder{snap: snap, opts: opts, user: u}
	b.lay = PhoneLayout{
		MAC: p.MAC, Model: p.Model, Vendor: directory.Vendor(p.Model),
		User: u.ID, Extension: u.Extension, Name: nameOf(u.Name, u.ID),
	}
	b.addAccount(Account{Type: KeyLine, Extension: u.Extension, DisplayName: b.lay.Name,
		Label: b.lay.Name, Owner: u.ID, MWI: true})
	b.departmentLines()
	b.executiveLines()
	if opts.DNDKey {
		b.keys = append(b.keys, Key{Type: KeyDND, Label: "DND", Account: 1, Extension: u.Extension, Target: u.ID})
	}
	b.awayKeys()
	b.voicemailKeys()
	b.fit()
	return b.lay, true
}

type layoutBuilder struct {
	snap *directory.Snapshot
	opts LayoutOptions
	user *directory.User
	lay  PhoneLayout
	keys []Key // candidates in priority order
}

func nameOf(name, id string) string {
	if name != "" {
		return name
	}
	return id
}

// addAccount appends a and its line key, numbering it.
func (b *layoutBuilder) addAccount(a Account) {
	a.Index = len(b.lay.Accounts) + 1
	a.AuthUser = b.user.Extension
	b.lay.Accounts = append(b.lay.Accounts, a)
	b.keys = append(b.keys, Key{Type: a.Type, Label: a.Label, Account: a.Index, Extension: a.Extension, Target: a.Owner,
		Shared: a.Shared})
}

// addLine adds a department or executive line: a shared call appearance
// where the model runs SCA, else a private line plus a BLF key on it.
func (b *layoutBuilder) addLine(a Account) {
	a.Shared = b.opts.SCA
	b.addAccount(a)
	if !a.Shared {
		b.keys = append(b.keys, b.blf(a.Label, a.Extension, a.Owner))
	}
}

func (b *layoutBuilder) roomForAccount() bool { return len(b.lay.Accounts) < b.opts.Accounts }

func (b *layoutBuilder) departmentLines() {
	for _, d := range b.snap.DepartmentsOf(b.user.ID) {
		name := nameOf(d.Name, d.ID)
		if !b.roomForAccount() {
			b.warnf("shared line %q (%s) shown as a BLF key: %s supports %d SIP accounts", name, d.Extension, b.lay.Model, b.opts.Accounts)
			b.keys = append(b.keys, b.blf(name, d.Extension, d.ID))
			continue
		}
		b.addLine(Account{Type: KeySharedLine, Extension: d.Extension, DisplayName: name, Label: name, Owner: d.ID})
	}
}

func (b *layoutBuilder) executiveLines() {
	for _, pr := range b.snap.ExecutivesOf(b.user.ID) {
		exec, ok := b.snap.User(pr.Executive)
		if !ok {
			continue
		}
		name := nameOf(exec.Name, exec.ID)
		if !b.roomForAccount() {
			b.warnf("executive line %q (%s) shown as a BLF key: %s supports %d SIP accounts", name, exec.Extension, b.lay.Model, b.opts.Accounts)
			b.keys = append(b.keys, b.blf(name, exec.Extension, exec.ID))
			continue
		}
		b.addLine(Account{Type: KeyExecutiveLine, Extension: exec.Extension, DisplayName: name, Label: name,
			Owner: exec.ID, MWI: pr.Has(directory.PermVoicemail)})
	}
}

func (b *layoutBuilder) blf(label, ext, target string) Key {
	return Key{Type: KeyBLF, Label: label, Account: 1, Extension: ext,
		URI: "sip:" + ext + "@" + b.opts.Domain, Target: target, Pickup: true}
}

func (b *layoutBuilder) awayKeys() {
	depts := b.snap.DepartmentsOf(b.user.ID)
	for _, d := range depts {
		b.keys = append(b.keys, Key{Type: KeyAway, Label: "Away " + nameOf(d.Name, d.ID), Account: 1,
			Extension: "away-" + d.Extension, URI: AwayURI(d.Extension, b.opts.Domain), Target: d.ID})
	}
	if len(depts) > 1 {
		b.keys = append(b.keys, Key{Type: KeyAway, Label: "Away all", Account: 1,
			Extension: "away", URI: AwayURI("", b.opts.Domain)})
	}
}

func (b *layoutBuilder) voicemailKeys() {
	if !b.opts.VoicemailKey {
		return
	}
	for _, a := range b.lay.Accounts {
		if !a.MWI {
			continue
		}
		label := "Voicemail"
		if a.Index > 1 {
			label = "VM " + a.Label
		}
		b.keys = append(b.keys, Key{Type: KeyVoicemail, Label: label, Account: a.Index, Extension: a.Extension, Target: a.Owner})
	}
}

// fit keeps the keys that fit on the model and the accounts whose line key
// was kept (account 1 always stays: the phone needs its line even without
// a key for it).
func (b *layoutBuilder) fit() {
	n := max(b.opts.Keys, 0)
	if len(b.keys) <= n {
		b.lay.Keys = b.keys
		return
	}
	b.lay.Keys = b.keys[:n:n]
	kept := 1
	for _, k := range b.lay.Keys {
		if k.Type == KeySharedLine || k.Type == KeyExecutiveLine {
			kept = max(kept, k.Account)
		}
	}
	b.lay.Accounts = b.lay.Accounts[:kept:kept]
	for _, k := range b.keys[n:] {
		b.warnf("%s key %q (%s) does not fit: %s has %d line keys", k.Type, k.Label, k.Extension, b.lay.Model, n)
	}
}

func (b *layoutBuilder) warnf(format string, args ...any) {
	b.lay.Warnings = append(b.lay.Warnings, fmt.Sprintf(format, args...))
}
