package store

import (
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketProvSecrets holds, per phone MAC, where the phone's provisioning
// secrets may go (since schema 2; created at Open like every declared
// bucket).
const bucketProvSecrets = "provsecrets"

// SecretBinding records which address may fetch a phone's files with
// secrets in them. The store keeps it; the provisioning server decides
// what it means.
type SecretBinding struct {
	MAC string `json:"mac"` // normalised, the key
	// Address is the IP the secrets are bound to; "" means armed: the next
	// fetch of a file with secrets binds its source address.
	Address string    `json:"address,omitempty"`
	BoundAt time.Time `json:"bound_at,omitzero"`
	BoundBy string    `json:"bound_by,omitempty"` // "first fetch", "operator"
	// Previous is the address before the last re-arm (or where the phone
	// was last seen), to tell whether the secrets then went somewhere new.
	Previous string    `json:"previous,omitempty"`
	ArmedAt  time.Time `json:"armed_at,omitzero"`
	// Delivered is when a file with secrets last went to Address.
	Delivered time.Time `json:"delivered,omitzero"`
	// Withheld / WithheldFrom: the last request refused the secrets
	// because it came from another address.
	Withheld     time.Time `json:"withheld,omitzero"`
	WithheldFrom string    `json:"withheld_from,omitempty"`
	// Alert is set when secrets went to a new address or were asked for
	// from an address they are not bound to; re-arming clears it.
	Alert   string    `json:"alert,omitempty"`
	AlertAt time.Time `json:"alert_at,omitzero"`
}

// UpdateSecretBinding reads the binding of mac (found is false when there
// is none), calls decide inside one write transaction and stores what it
// returns when write is true. Concurrent callers for one MAC are
// serialised, so two first fetches cannot both bind. It returns the stored
// (or unchanged) binding.
func (db *DB) UpdateSecretBinding(mac string, decide func(cur SecretBinding, found bool) (next SecretBinding, write bool)) (SecretBinding, error) {
	norm, err := normalizeMAC(mac)
	if err != nil {
		return SecretBinding{}, fmt.Errorf("secret binding: %w", err)
	}
	var out SecretBinding
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketProvSecrets)
		if err != nil {
			return err
		}
		var cur SecretBinding
		found, err := getJSON(b, []byte(norm), &cur)
		if err != nil {
			return err
		}
		cur.MAC = norm
		next, write := decide(cur, found)
		out = cur
		if !write {
			return nil
		}
		next.MAC = norm
		out = next
		return putJSON(b, []byte(norm), next)
	})
	if err != nil {
		return SecretBinding{}, fmt.Errorf("secret binding %s: %w", norm, err)
	}
	return out, nil
}

// LookupSecretBinding returns the binding of mac (any spelling).
func (db *DB) LookupSecretBinding(mac string) (SecretBinding, bool, error) {
	norm, err := normalizeMAC(mac)
	if err != nil {
		return SecretBinding{}, false, fmt.Errorf("secret binding: %w", err)
	}
	var sb SecretBinding
	var found bool
	err = db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketProvSecrets)
		if err != nil {
			return err
		}
		found, err = getJSON(b, []byte(norm), &sb)
		return err
	})
	if err != nil {
		return SecretBinding{}, false, fmt.Errorf("secret binding %s: %w", norm, err)
	}
	return sb, found, nil
}

// SecretBindings returns every phone's secret binding, ordered by MAC.
func (db *DB) SecretBindings() ([]SecretBinding, error) {
	var out []SecretBinding
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketProvSecrets)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var sb SecretBinding
			if err := json.Unmarshal(v, &sb); err != nil {
				return fmt.Errorf("decode %q: %w", k, err)
			}
			out = append(out, sb)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read secret bindings: %w", err)
	}
	return out, nil
}
