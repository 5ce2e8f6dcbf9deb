package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// AwayAll in Presence.Away means away from every department.
const AwayAll = "*"

// Presence is a user's do-not-disturb and away state.
type Presence struct {
	User    string    `json:"user"`
	DND     bool      `json:"dnd"`
	Away    []string  `json:"away,omitempty"` // department ids, sorted; [AwayAll] = all
	Updated time.Time `json:"updated"`
}

// AwayFrom reports whether the user is away for department dept.
func (p Presence) AwayFrom(dept string) bool {
	for _, d := range p.Away {
		if d == AwayAll || d == dept {
			return true
		}
	}
	return false
}

// normalizeAway returns a new sorted, deduplicated list without empty ids;
// AwayAll absorbs everything else. nil when empty.
func normalizeAway(away []string) []string {
	var out []string
	for _, d := range away {
		switch d {
		case "":
			continue
		case AwayAll:
			return []string{AwayAll}
		}
		out = append(out, d)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Presence returns user's state; a user never stored gets the zero state
// with User set.
func (db *DB) Presence(user string) (Presence, error) {
	if err := checkName("user", user); err != nil {
		return Presence{}, fmt.Errorf("read presence: %w", err)
	}
	p := Presence{User: user}
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketPresence)
		if err != nil {
			return err
		}
		_, err = getJSON(b, []byte(user), &p)
		return err
	})
	if err != nil {
		return Presence{User: user}, fmt.Errorf("read presence of %s: %w", user, err)
	}
	return p, nil
}

// PutPresence stores p, with Away sorted and deduplicated.
func (db *DB) PutPresence(p Presence) error {
	if err := checkName("user", p.User); err != nil {
		return fmt.Errorf("put presence: %w", err)
	}
	p.Away = normalizeAway(p.Away)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketPresence)
		if err != nil {
			return err
		}
		return putJSON(b, []byte(p.User), p)
	})
	if err != nil {
		return fmt.Errorf("put presence of %s: %w", p.User, err)
	}
	return nil
}

// AllPresence returns every stored state, ordered by user.
func (db *DB) AllPresence() ([]Presence, error) {
	var out []Presence
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketPresence)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var p Presence
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode presence %q: %w", k, err)
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read all presence: %w", err)
	}
	return out, nil
}
