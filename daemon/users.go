package daemon

import (
	"context"
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
	p, err := d.db.Presence(u.ID)
	if err != nil {
		return nil, err
	}
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
	return d.changePresence(u.ID, func(p *store.Presence) { p.DND = c.On })
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
	key := "*"
	if c.Department != "" {
		dept, ok := d.snapshot().Department(c.Department)
		if !ok {
			return nil, errorf(http.StatusNotFound, "unknown department %q", c.Department)
		}
		if !slices.Contains(dept.Operators, u.ID) {
			return nil, errorf(http.StatusConflict, "%s is not an operator of department %s", u.ID, dept.ID)
		}
		key = dept.ID
	}
	return d.changePresence(u.ID, func(p *store.Presence) { p.Away = setAway(p.Away, key, c.On) })
}

// setAway turns away on or off for one department or ("*") for all.
// Turning all off clears every department too: the user is back.
func setAway(away []string, key string, on bool) []string {
	switch {
	case key == "*" && !on:
		return nil
	case key == "*":
		return []string{"*"}
	case on && !slices.Contains(away, key) && !slices.Contains(away, "*"):
		return append(slices.Clone(away), key)
	case !on:
		return slices.DeleteFunc(slices.Clone(away), func(s string) bool { return s == key })
	}
	return away
}

// changePresence goes through the presence service (routing's), so calls
// see the change at once and the change feed (key LEDs) sees it too.
func (d *Daemon) changePresence(user string, f func(*store.Presence)) (any, error) {
	p, err := d.sip.Presence().Update(context.Background(), user, presence.ByControl,
		func(p store.Presence) store.Presence { f(&p); return p })
	if err != nil {
		return nil, err
	}
	return presenceValue(p), nil
}

func (d *Daemon) handleHistory(r *http.Request) (any, error) {
	u, err := d.userFrom(r)
	if err != nil {
		return nil, err
	}
	hs, err := d.db.History(u.ID, 0)
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
