package store

import (
	"crypto/rand"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// maxSecretSize bounds Secret's size: secrets are keys, not payloads.
const maxSecretSize = 1024

// secretRecord is a stored secret (JSON; the value is base64 there).
type secretRecord struct {
	Value   []byte    `json:"value"`
	Created time.Time `json:"created"`
}

// Secret returns the daemon's named secret (an HMAC key, say), creating it
// on first use from size bytes of crypto/rand. It is stable afterwards,
// across restarts. size applies only to creation: a stored secret is
// returned as it is, whatever its length (a key migrated from an older
// schema keeps its length so what it signed stays valid).
func (db *DB) Secret(name string, size int) ([]byte, error) {
	if err := checkName("secret name", name); err != nil {
		return nil, fmt.Errorf("secret: %w", err)
	}
	if size <= 0 || size > maxSecretSize {
		return nil, fmt.Errorf("secret %s: size %d outside 1..%d", name, size, maxSecretSize)
	}
	var rec secretRecord
	var found bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketSecrets)
		if err != nil {
			return err
		}
		found, err = getJSON(b, []byte(name), &rec)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", name, err)
	}
	if found {
		return rec.Value, nil
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketSecrets)
		if err != nil {
			return err
		}
		// Read again inside the write: a concurrent first use may have won.
		if found, err := getJSON(b, []byte(name), &rec); err != nil || found {
			return err
		}
		rec = secretRecord{Value: make([]byte, size), Created: time.Now().UTC()}
		if _, err := rand.Read(rec.Value); err != nil {
			return fmt.Errorf("generate: %w", err)
		}
		return putJSON(b, []byte(name), rec)
	})
	if err != nil {
		return nil, fmt.Errorf("create secret %s: %w", name, err)
	}
	return rec.Value, nil
}

// Schema 1 had no secrets: routing kept its Record-Route key as the
// password of this pseudo-user (':' never appears in a directory user id).
const (
	legacyRouteKeyUser = "deskgate:route-key"
	routeKeySecret     = "route-key"
)

// migrateFromV1 adds the secrets bucket and moves the pseudo-credentials
// there, value unchanged: dialog tokens signed before the upgrade stay
// valid, so calls in progress can still be hung up.
func migrateFromV1(tx *bolt.Tx) error {
	secrets, err := tx.CreateBucketIfNotExists([]byte(bucketSecrets))
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketSecrets, err)
	}
	creds := tx.Bucket([]byte(bucketCredentials))
	if creds == nil {
		return nil
	}
	var c Credential
	found, err := getJSON(creds, []byte(legacyRouteKeyUser), &c)
	switch {
	case err != nil:
		return fmt.Errorf("move route key to secrets: %w", err)
	case !found:
		return nil
	case c.Password == "":
		return fmt.Errorf("move route key to secrets: credential %s has no password", legacyRouteKeyUser)
	}
	rec := secretRecord{Value: []byte(c.Password), Created: c.Created}
	if err := putJSON(secrets, []byte(routeKeySecret), rec); err != nil {
		return fmt.Errorf("move route key to secrets: %w", err)
	}
	if err := creds.Delete([]byte(legacyRouteKeyUser)); err != nil {
		return fmt.Errorf("move route key to secrets: %w", err)
	}
	return nil
}
