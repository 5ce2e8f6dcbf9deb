package presence

import (
	"slices"
	"strings"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// Codes are the dial codes that change presence (docs/spec.md §2 feature_codes).
// The away codes also take a department extension as a suffix: "*452000"
// is away from the department with extension 2000 only.
type Codes struct {
	DNDOn   string
	DNDOff  string
	AwayOn  string
	AwayOff string
}

// DefaultCodes are docs/spec.md defaults: *78 *79 *45 *46.
func DefaultCodes() Codes {
	return Codes{DNDOn: "*78", DNDOff: "*79", AwayOn: "*45", AwayOff: "*46"}
}

// WithDefaults returns c with every empty code replaced by its default.
func (c Codes) WithDefaults() Codes {
	d := DefaultCodes()
	for _, f := range []struct{ v, def *string }{
		{&c.DNDOn, &d.DNDOn}, {&c.DNDOff, &d.DNDOff}, {&c.AwayOn, &d.AwayOn}, {&c.AwayOff, &d.AwayOff},
	} {
		if *f.v == "" {
			*f.v = *f.def
		}
	}
	return c
}

// Kind says which part of presence an Op changes.
type Kind int

// Kinds of Op.
const (
	KindDND Kind = iota + 1
	KindAway
)

// Op is one presence change: DND on/off, or away on/off for one
// department (Department set) or for all of them.
type Op struct {
	Kind       Kind
	On         bool
	Department string // KindAway: department id; "" = all departments
}

// Phrase names the state an Op leads to, as the reason phrase of the
// feature code's answer and in logs: "DND on", "DND off", "Away on",
// "Away off", "Away on support", "Away off support".
func (op Op) Phrase() string {
	state := "off"
	if op.On {
		state = "on"
	}
	switch op.Kind {
	case KindDND:
		return "DND " + state
	case KindAway:
		if op.Department != "" {
			return "Away " + state + " " + op.Department
		}
		return "Away " + state
	}
	return "no change"
}

// Feature is the decision for a dialled feature code: apply Op, or, when
// Status is non-zero, refuse the call with Status and Reason.
type Feature struct {
	Op     Op
	Status int
	Reason string
}

// maxFeatureLen bounds what ParseFeature looks at (outside input): a
// code of a few characters plus an extension of at most 8 digits.
const maxFeatureLen = 32

// ParseFeature decides what the feature code dialled by user means.
// Codes are matched exactly first; the away codes then also match as a
// prefix followed by a department's extension (the longest code wins),
// which the user must operate. A trailing '#' (the "send" key on some
// phones) is ignored. Unknown codes are 404, departments the user does
// not operate 403.
func ParseFeature(snap *directory.Snapshot, codes Codes, user, dialled string) Feature {
	codes = codes.WithDefaults()
	s := strings.TrimSuffix(strings.TrimSpace(dialled), "#")
	if snap == nil {
		return refuse(503, "Directory Not Loaded")
	}
	if _, ok := snap.User(user); !ok {
		return refuse(403, "Unknown User")
	}
	if s == "" || len(s) > maxFeatureLen {
		return refuse(404, "Unknown Feature Code")
	}
	switch s {
	case codes.DNDOn:
		return Feature{Op: Op{Kind: KindDND, On: true}}
	case codes.DNDOff:
		return Feature{Op: Op{Kind: KindDND, On: false}}
	case codes.AwayOn:
		return Feature{Op: Op{Kind: KindAway, On: true}}
	case codes.AwayOff:
		return Feature{Op: Op{Kind: KindAway, On: false}}
	}
	away := []struct {
		code string
		on   bool
	}{{codes.AwayOn, true}, {codes.AwayOff, false}}
	if len(codes.AwayOff) > len(codes.AwayOn) {
		away[0], away[1] = away[1], away[0]
	}
	for _, a := range away {
		if ext, ok := strings.CutPrefix(s, a.code); ok && ext != "" {
			return awayFrom(snap, user, ext, a.on)
		}
	}
	return refuse(404, "Unknown Feature Code")
}

// awayFrom is the away change for the department with extension ext.
func awayFrom(snap *directory.Snapshot, user, ext string, on bool) Feature {
	e, ok := snap.ByExtension(ext)
	if !ok || e.Kind != directory.KindDepartment || e.Department == nil {
		return refuse(404, "Unknown Department")
	}
	if !slices.Contains(e.Department.Operators, user) {
		return refuse(403, "Not An Operator Of "+e.Department.ID)
	}
	return Feature{Op: Op{Kind: KindAway, On: on, Department: e.Department.ID}}
}

func refuse(status int, reason string) Feature {
	return Feature{Status: status, Reason: reason}
}

// Apply returns the presence p leads to under op; p is not modified.
// depts are the ids of the departments the user operates: they let "back
// for one department" while away from all keep the user away from the
// others. Away is returned sorted, without duplicates, and [store.AwayAll]
// alone when away from everything; nil when not away at all.
func Apply(p store.Presence, op Op, depts []string) store.Presence {
	out := p
	out.Away = slices.Clone(p.Away)
	switch op.Kind {
	case KindDND:
		out.DND = op.On
	case KindAway:
		out.Away = applyAway(out.Away, op, depts)
	}
	out.Away = normalizeAway(out.Away)
	return out
}

func applyAway(away []string, op Op, depts []string) []string {
	all := slices.Contains(away, store.AwayAll)
	switch {
	case op.Department == "" && op.On:
		return []string{store.AwayAll}
	case op.Department == "":
		return nil // back for everything
	case op.On && all:
		return away
	case op.On:
		return append(away, op.Department)
	case all:
		// Away from all, back for one: away from each of the others.
		return slices.DeleteFunc(slices.Clone(depts), func(d string) bool { return d == op.Department })
	}
	return slices.DeleteFunc(away, func(d string) bool { return d == op.Department })
}

// normalizeAway sorts and deduplicates; AwayAll absorbs every other id
// (the same rule the store applies, so the cache equals what is stored).
func normalizeAway(away []string) []string {
	var out []string
	for _, d := range away {
		switch d {
		case "":
			continue
		case store.AwayAll:
			return []string{store.AwayAll}
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Same reports whether two presence states are equal, ignoring Updated.
func Same(a, b store.Presence) bool {
	return a.User == b.User && a.DND == b.DND && slices.Equal(normalizeAway(a.Away), normalizeAway(b.Away))
}
