package provisioning

import (
	"reflect"
	"slices"

	"deskgate/daemon/directory"
)

// Affected returns, sorted, the MACs of the phones in cur whose rendered
// configuration differs from what old gave them: new phones, phones whose
// model or user changed, and phones whose accounts or keys (labels,
// shared lines, executive lines, away keys, voicemail) changed. Removed
// phones are not listed (there is nobody to tell); credentials are not
// compared (a rotation is pushed by whoever rotates). It is pure; a nil
// old means every phone.
func Affected(old, cur *directory.Snapshot) []string {
	if cur == nil {
		return nil
	}
	var out []string
	for _, p := range cur.Phones() {
		now, ok := layoutOf(cur, p)
		if !ok {
			continue
		}
		if old != nil {
			if before, ok := old.Phone(p.MAC); ok {
				if prev, ok := layoutOf(old, *before); ok && reflect.DeepEqual(prev, now) {
					continue
				}
			}
		}
		out = append(out, p.MAC)
	}
	slices.Sort(out)
	return out
}

// layoutOf is the phone's layout with its model's options; the domain is
// left empty since it is the same on both sides of a comparison.
func layoutOf(snap *directory.Snapshot, p directory.Phone) (PhoneLayout, bool) {
	opts, ok := layoutOptionsFor(p.Model, "")
	if !ok {
		return PhoneLayout{}, false
	}
	return Layout(snap, p.MAC, opts)
}

// Warnings returns what could not be placed on the phone with that MAC
// (keys beyond its model's key count, lines beyond its accounts shown as
// BLF keys), one sentence each naming the key; nil when everything fits
// or the MAC is not in snap. It is pure; the daemon lists it in
// `deskgatectl phones`, and the server logs it when the phone fetches its
// file.
func Warnings(snap *directory.Snapshot, mac string) []string {
	if snap == nil {
		return nil
	}
	p, ok := snap.Phone(mac)
	if !ok {
		return nil
	}
	lay, ok := layoutOf(snap, *p)
	if !ok {
		return nil
	}
	return lay.Warnings
}
