package store

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// LastGood is the last directory document that parsed and validated, kept
// so the daemon starts with the upstream unreachable.
type LastGood struct {
	Raw     []byte
	Origin  string // "file" or "api"
	Version string
	Saved   time.Time
}

// The document is stored verbatim (readable YAML or JSON, no base64) next to
// a small JSON record describing it; both are written in one transaction.
const (
	keyLastGoodDocument = "document"
	keyLastGoodInfo     = "info"
)

type lastGoodInfo struct {
	Origin  string    `json:"origin"`
	Version string    `json:"version"`
	Saved   time.Time `json:"saved"`
	Size    int       `json:"size"`
}

// PutLastGood replaces the stored document. A zero Saved means now.
func (db *DB) PutLastGood(lg LastGood) error {
	if len(lg.Raw) == 0 {
		return errors.New("put last good directory: empty document")
	}
	if lg.Saved.IsZero() {
		lg.Saved = time.Now().UTC()
	}
	info := lastGoodInfo{Origin: lg.Origin, Version: lg.Version, Saved: lg.Saved, Size: len(lg.Raw)}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketLastGood)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(keyLastGoodDocument), lg.Raw); err != nil {
			return err
		}
		return putJSON(b, []byte(keyLastGoodInfo), info)
	})
	if err != nil {
		return fmt.Errorf("put last good directory %s: %w", lg.Version, err)
	}
	return nil
}

// LastGood returns the stored document, if any. Raw is a copy.
func (db *DB) LastGood() (LastGood, bool, error) {
	var lg LastGood
	var found bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketLastGood)
		if err != nil {
			return err
		}
		raw := b.Get([]byte(keyLastGoodDocument))
		if raw == nil {
			return nil
		}
		var info lastGoodInfo
		if _, err := getJSON(b, []byte(keyLastGoodInfo), &info); err != nil {
			return err
		}
		found = true
		lg = LastGood{Raw: bytes.Clone(raw), Origin: info.Origin, Version: info.Version, Saved: info.Saved}
		return nil
	})
	if err != nil {
		return LastGood{}, false, fmt.Errorf("read last good directory: %w", err)
	}
	return lg, found, nil
}
