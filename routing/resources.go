package routing

import (
	"slices"
	"strings"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/events"
)

// Away keys watch and dial a resource the daemon serves. The names are
// provisioning's (provisioning.AwayURI: sip:away-<department extension>@
// domain, sip:away@domain for all departments); routing may not import
// provisioning, so they are repeated here.
const (
	awayAllUser = "away"
	awayPrefix  = "away-"
)

// resource is what a subscription watches and how it is refused.
type resource struct {
	key string // resDND+user, resLine+extension, resAway+department id or "*"
	st  Status // non-zero Code: refuse the SUBSCRIBE with this
}

func refuseRes(code int, reason string) resource { return resource{st: refuse(code, reason)} }

// resolveResource decides what a SUBSCRIBE of package pkg for the
// Request-URI user ruser means for subscriber, or why it is refused:
//   - as-feature-event: only the subscriber's own DND (by extension, number
//     or id), else 403;
//   - dialog on away / away-<ext>: the subscriber's away state for all its
//     departments / that department, which it must operate (403);
//   - dialog on a user's or department's extension or number: anybody may
//     watch it (docs/spec.md §5 "BLF");
//   - anything else: 404.
func resolveResource(snap *directory.Snapshot, pkg, subscriber, ruser string) resource {
	switch pkg {
	case events.PackageFeature:
		if u, ok := userOf(snap, ruser); ok {
			if u.ID != subscriber {
				return refuseRes(403, "Not Your Feature Keys")
			}
			return resource{key: resDND + u.ID}
		}
		return refuseRes(404, "Not Found")
	case events.PackageDialog:
		if r, ok := awayResource(snap, subscriber, ruser); ok {
			return r
		}
		if e, ok := snap.Lookup(ruser); ok {
			switch {
			case e.Kind == directory.KindUser && e.User != nil:
				return resource{key: resLine + e.User.Extension}
			case e.Kind == directory.KindDepartment && e.Department != nil:
				return resource{key: resLine + e.Department.Extension}
			}
		}
		return refuseRes(404, "Not Found")
	case pkgCallInfo, pkgLineSeize:
		return scaResource(snap, pkg, subscriber, ruser)
	}
	return refuseRes(489, "Bad Event")
}

// userOf resolves a Request-URI user naming a user (extension, number, id).
func userOf(snap *directory.Snapshot, ruser string) (*directory.User, bool) {
	if e, ok := snap.Lookup(ruser); ok {
		if e.Kind == directory.KindUser && e.User != nil {
			return e.User, true
		}
		return nil, false
	}
	return snap.User(ruser)
}

// awayResource resolves away / away-<extension>; ok is false when ruser is
// not an away resource at all.
func awayResource(snap *directory.Snapshot, subscriber, ruser string) (resource, bool) {
	dept, all, ok := parseAway(ruser)
	if !ok {
		return resource{}, false
	}
	mine := snap.DepartmentsOf(subscriber)
	if all {
		if len(mine) == 0 {
			return refuseRes(403, "Not An Operator"), true
		}
		return resource{key: resAway + store.AwayAll}, true
	}
	e, found := snap.ByExtension(dept)
	if !found || e.Kind != directory.KindDepartment || e.Department == nil {
		return refuseRes(404, "Unknown Department"), true
	}
	if !slices.Contains(e.Department.Operators, subscriber) {
		return refuseRes(403, "Not An Operator Of "+e.Department.ID), true
	}
	return resource{key: resAway + e.Department.ID}, true
}

// parseAway splits an away resource name: "away" (all) or "away-<ext>".
func parseAway(ruser string) (ext string, all, ok bool) {
	if strings.EqualFold(ruser, awayAllUser) {
		return "", true, true
	}
	if len(ruser) > len(awayPrefix) && strings.EqualFold(ruser[:len(awayPrefix)], awayPrefix) {
		return ruser[len(awayPrefix):], false, true
	}
	return "", false, false
}

// awayLit reports whether an away key's lamp is on: away from that
// department, or (dept "*") from every department the user operates.
func awayLit(snap *directory.Snapshot, p store.Presence, dept string) bool {
	if dept != store.AwayAll {
		return p.AwayFrom(dept)
	}
	if slices.Contains(p.Away, store.AwayAll) {
		return true
	}
	mine := snap.DepartmentsOf(p.User)
	if len(mine) == 0 {
		return false
	}
	for _, d := range mine {
		if !p.AwayFrom(d.ID) {
			return false
		}
	}
	return true
}

// lineInsider reports whether user belongs to the line of extension ext:
// it is the user, an active assistant of that user, or an operator of that
// department. Insiders see who is calling and get what directed pickup
// needs; everybody else sees only the state (docs/spec.md §5 BLF, issue 5).
func lineInsider(snap *directory.Snapshot, user, ext string) bool { return snap.OnLine(user, ext) }
