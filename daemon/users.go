package daemon

import (
	"net/http"
	"slices"

	"deskgate/daemon/controlapi"
	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/presence"
)

// userFrom resolves the {user} of a per-user control request against the
// running directory: an id, or an extension for convenience.
func (d *Daemon) userFrom(r *http.Request) (*directory.User, error) {
	id := r.PathValue("user")
	snap := d.snapshot()
	if u, ok := snap.User(id); ok {
		return u, nil
	}
	if e, ok := snap.ByExtension(id); ok && e.Kind == directory.KindUser {
		return e.User, nil
	}
	return nil, errorf(http.StatusNotFound, "unknown user %q (not in directory version %q)", id, snap.Version())
}

func presenceValue(p store.Presence) controlapi.Presence {
	away := p.Away
	if away == nil {
		away = []string{}
	}
	return controlapi.Presence{User: p.User, DND: p.DND, Away: away}
}

func (d *Daemon) handleGetPresence(r *http.Request) (any, error) {
	u, err := d.userFrom(r)
	if err != nil {
		return nil, err
	}
	p := d.presence.Get(u.ID)
	p.User = u.ID
	return presenceValue(p), nil
}

func decodeChange(r *http.Request) (controlapi.PresenceChange, error) {
	var c controlapi.PresenceChange
	if err := decodeBody(r, &c); err != nil {
		return c, errorf(http.StatusBadRequest, "bad request: %v", err)
	}
	return c, nil
}

func (d *Daemon) handleSetDND(r *http.Request) (any, error) {
	u, err := d.userFrom(r)
	if err != nil {
		return nil, err
	}
	c, err := decodeChange(r)
	if err != nil {
		return nil, err
	}
	// Through the presence service routing consults, so the next call and the change
	// feed (key LEDs) see it, as they see feature codes.
	p, err := d.presence.SetDND(r.Context(), u.ID, c.On, presence.ByControl)
	if err != nil {
		return nil, err
	}
	return presenceValue(p), nil
}

func (d *Daemon) handleSetAway(r *http.Request) (any, error) {
	u, err := d.userFrom(r)
	if err != nil {
		return nil, err
	}
	c, err := decodeChange(r)
	if err != nil {
		return nil, err
	}
	if c.Department != "" {
		dept, ok := d.snapshot().Department(c.Department)
		if !ok {
			return nil, errorf(http.StatusNotFound, "unknown department %q", c.Department)
		}
		if !slices.Contains(dept.Operators, u.ID) {
			return nil, errorf(http.StatusConflict, "%s is not an operator of department %s", u.ID, dept.ID)
		}
	}
	p, err := d.presence.SetAway(r.Context(), u.ID, c.Department, c.On, presence.ByControl)
	if err != nil {
		return nil, err
	}
	return presenceValue(p), nil
}

// handleHistory shows a user's history, or a department's (its missed
// calls; answered ones are in the answering operator's history).
func (d *Daemon) handleHistory(r *http.Request) (any, error) {
	id := r.PathValue("user")
	snap := d.snapshot()
	if dept, ok := snap.Department(id); ok {
		id = dept.ID
	} else if e, ok := snap.ByExtension(id); ok && e.Kind == directory.KindDepartment {
		id = e.Department.ID
	} else {
		u, err := d.userFrom(r)
		if err != nil {
			return nil, err
		}
		id = u.ID
	}
	hs, err := d.db.History(id, 0)
	if err != nil {
		return nil, err
	}
	out := make([]controlapi.HistoryEntry, 0, len(hs))
	for _, h := range hs {
		out = append(out, controlapi.HistoryEntry{Time: h.Time.UTC(), Direction: h.Direction, Peer: h.Peer,
			Result: h.Result, OnBehalfOf: h.OnBehalfOf})
	}
	return out, nil
}

func (d *Daemon) handleCredentials(r *http.Request) (any, error) {
	u, err := d.userFrom(r)
	if err != nil {
		return nil, err
	}
	var c store.Credential
	if r.Method == http.MethodPost && r.URL.Query().Get("rotate") != "" {
		c, err = d.db.RotateCredential(u.ID, u.Extension)
		if err == nil {
			d.log.Info("credentials rotated", "user", u.ID)
		}
	} else {
		c, err = d.db.Credential(u.ID, u.Extension)
	}
	if err != nil {
		return nil, err
	}
	return controlapi.Credentials{User: u.ID, Username: c.Username, Password: c.Password,
		Realm: d.cfg.Load().Domain}, nil
}
