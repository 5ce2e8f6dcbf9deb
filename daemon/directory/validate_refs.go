package directory

import (
	"fmt"
	"strings"
)

func (c *checker) phones() {
	macs := make(map[string]string, len(c.doc.Phones))
	for i := range c.doc.Phones {
		p := &c.doc.Phones[i]
		label := fmt.Sprintf("phones[%d]", i)
		if p.MAC != "" {
			label = fmt.Sprintf("phones[%d] (%s)", i, p.MAC)
		}
		switch mac, err := NormalizeMAC(p.MAC); {
		case p.MAC == "":
			c.addf(label, "mac is missing")
		case err != nil:
			c.addf(label, "%v", err)
		case macs[mac] != "":
			c.addRel(label, macs[mac], "MAC address %s is already used by %s", mac, macs[mac])
		default:
			macs[mac] = label
		}
		c.model(label, p.Model)
		switch {
		case p.User == "":
			c.addf(label, "user is missing (the user whose line the phone carries)")
		case c.users[p.User] == nil:
			c.addf(label, "user %q does not exist", p.User)
		}
	}
}

func (c *checker) model(label, model string) {
	if model == "" {
		c.addf(label, "model is missing (<vendor>-<model>, such as yealink-t54w)")
		return
	}
	if KnownModel(model) {
		return
	}
	vendor, _, _ := SplitModel(model)
	if names := Models(vendor); names != nil {
		c.addf(label, "unknown model %q; known %s models: %s", model, vendor, strings.Join(names, ", "))
		return
	}
	c.addf(label, "unknown model %q; write <vendor>-<model> with vendor one of %s", model, strings.Join(Vendors(), ", "))
}

func pairingLabel(i int, p *Pairing) string {
	return fmt.Sprintf("pairings[%d] (executive %s, assistant %s)", i, orNone(p.Executive), orNone(p.Assistant))
}

func orNone(s string) string {
	if s == "" {
		return "missing"
	}
	return s
}

func (c *checker) pairings() {
	first := make(map[[2]string]int, len(c.doc.Pairings))
	for i := range c.doc.Pairings {
		p := &c.doc.Pairings[i]
		label := pairingLabel(i, p)
		okE := c.member(label, "executive", p.Executive)
		okA := c.member(label, "assistant", p.Assistant)
		switch p.State {
		case PairingActive, PairingPending:
		case "":
			c.addf(label, "state is missing (active or pending)")
		default:
			c.addf(label, "state %q is not one of active, pending", p.State)
		}
		if okE && okA {
			c.relations(i, label, first)
		}
		c.permissions(label, p.Permissions)
	}
}

// relations checks pairing i against itself and the pairings before it;
// first maps (executive, assistant) to the first pairing with them.
func (c *checker) relations(i int, label string, first map[[2]string]int) {
	p := &c.doc.Pairings[i]
	if p.Executive == p.Assistant {
		c.addf(label, "a user cannot be their own assistant")
		return
	}
	key := [2]string{p.Executive, p.Assistant}
	if j, dup := first[key]; dup {
		other := pairingLabel(j, &c.doc.Pairings[j])
		c.addRel(label, other, "duplicate of %s", other)
	} else {
		first[key] = i
	}
	// Reciprocal pairings are refused whatever their state: a pending one
	// would become a loop the moment it is approved.
	if j, rec := first[[2]string{p.Assistant, p.Executive}]; rec {
		other := pairingLabel(j, &c.doc.Pairings[j])
		c.addRel(label, other, "reciprocal of %s: two users cannot be each other's assistant", other)
	}
}

// member checks one side of a pairing and reports whether it names a user
// that may be paired.
func (c *checker) member(label, role, id string) bool {
	u := c.users[id]
	switch {
	case id == "":
		c.addf(label, "%s is missing", role)
	case u == nil:
		c.addf(label, "%s %q is not a user", role, id)
	case u.License == LicenseContactCenter:
		c.addf(label, "%s %s has a contact_center license; contact center users cannot be in pairings", role, id)
	default:
		return true
	}
	return false
}

func (c *checker) permissions(label string, perms []string) {
	seen := make(map[string]bool, len(perms))
	for _, perm := range perms {
		switch {
		case seen[perm]:
			c.addf(label, "permission %q is listed twice", perm)
		case perm != PermVoicemail && perm != PermTranscripts && perm != PermRecordings:
			c.addf(label, "permission %q is not one of voicemail, transcripts, recordings", perm)
		}
		seen[perm] = true
	}
	if len(perms) > 0 && c.doc.Plan == PlanStandard {
		c.addf(label, "permissions need the pro or enterprise plan (this office's plan is standard)")
	}
}
