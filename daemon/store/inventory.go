package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// InventoryPhone is a phone seen on the LAN (mDNS, SIP PnP, provisioning
// request), whether or not the directory knows it.
type InventoryPhone struct {
	MAC       string    `json:"mac"` // "00:15:65:aa:bb:01", the key
	Vendor    string    `json:"vendor,omitempty"`
	Model     string    `json:"model,omitempty"`
	Address   string    `json:"address,omitempty"`
	Source    string    `json:"source,omitempty"` // how it was seen, e.g. "mdns", "pnp"
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// normalizeMAC accepts 12 hex digits with any of ':', '-', '.' or none as
// separators, in any case, and returns "00:15:65:aa:bb:01". It is a local copy
// of the directory's rule because store imports nothing of deskgate's.
func normalizeMAC(s string) (string, error) {
	hex := make([]byte, 0, 12)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ':' || c == '-' || c == '.':
			continue
		case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
		case 'A' <= c && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", fmt.Errorf("invalid MAC %q", s)
		}
		hex = append(hex, c)
	}
	if len(hex) != 12 {
		return "", fmt.Errorf("invalid MAC %q: want 12 hex digits", s)
	}
	var b strings.Builder
	for i := 0; i < 12; i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.Write(hex[i : i+2])
	}
	return b.String(), nil
}

// mergeSighting merges two sightings of one phone: the later one's
// non-empty fields win, FirstSeen is the earliest known and LastSeen the
// latest. Ties go to b, the incoming sighting.
func mergeSighting(a, b InventoryPhone) InventoryPhone {
	older, newer := a, b
	if b.LastSeen.Before(a.LastSeen) {
		older, newer = b, a
	}
	out := older
	setIfNonEmpty(&out.Vendor, newer.Vendor)
	setIfNonEmpty(&out.Model, newer.Model)
	setIfNonEmpty(&out.Address, newer.Address)
	setIfNonEmpty(&out.Source, newer.Source)
	out.LastSeen = newer.LastSeen
	if out.FirstSeen.IsZero() || (!newer.FirstSeen.IsZero() && newer.FirstSeen.Before(out.FirstSeen)) {
		out.FirstSeen = newer.FirstSeen
	}
	return out
}

func setIfNonEmpty(dst *string, src string) {
	if src != "" {
		*dst = src
	}
}

// SeePhone records a sighting: new phones are added, known ones keep
// FirstSeen and get LastSeen and every non-empty field updated. A zero
// LastSeen means now.
func (db *DB) SeePhone(p InventoryPhone) error {
	mac, err := normalizeMAC(p.MAC)
	if err != nil {
		return fmt.Errorf("record phone: %w", err)
	}
	p.MAC = mac
	if p.LastSeen.IsZero() {
		p.LastSeen = time.Now().UTC()
	}
	if p.FirstSeen.IsZero() {
		p.FirstSeen = p.LastSeen
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketInventory)
		if err != nil {
			return err
		}
		var old InventoryPhone
		found, err := getJSON(b, []byte(mac), &old)
		if err != nil {
			return err
		}
		if found {
			old.MAC = mac
			p = mergeSighting(old, p)
		}
		return putJSON(b, []byte(mac), p)
	})
	if err != nil {
		return fmt.Errorf("record phone %s: %w", mac, err)
	}
	return nil
}

// LookupPhone returns the inventory entry for mac (any spelling).
func (db *DB) LookupPhone(mac string) (InventoryPhone, bool, error) {
	norm, err := normalizeMAC(mac)
	if err != nil {
		return InventoryPhone{}, false, fmt.Errorf("read phone: %w", err)
	}
	var p InventoryPhone
	var found bool
	err = db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketInventory)
		if err != nil {
			return err
		}
		found, err = getJSON(b, []byte(norm), &p)
		return err
	})
	if err != nil {
		return InventoryPhone{}, false, fmt.Errorf("read phone %s: %w", norm, err)
	}
	return p, found, nil
}

// Inventory returns every phone seen, ordered by MAC.
func (db *DB) Inventory() ([]InventoryPhone, error) {
	var out []InventoryPhone
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketInventory)
		if err != nil {
			return err
		}
		return b.ForEach(func(k, v []byte) error {
			var p InventoryPhone
			if err := json.Unmarshal(v, &p); err != nil {
				return fmt.Errorf("decode phone %q: %w", k, err)
			}
			out = append(out, p)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w", err)
	}
	return out, nil
}

// rekeyInventory moves entries keyed by a non-normalised MAC to the
// normalised key, merging duplicates. Keys that are
// not MACs at all are left alone rather than dropped.
func rekeyInventory(b *bolt.Bucket) error {
	type entry struct {
		key   []byte
		mac   string
		phone InventoryPhone
	}
	var moved []entry
	err := b.ForEach(func(k, v []byte) error {
		mac, err := normalizeMAC(string(k))
		if err != nil || mac == string(k) {
			return nil
		}
		var p InventoryPhone
		if err := json.Unmarshal(v, &p); err != nil {
			return fmt.Errorf("decode phone %q: %w", k, err)
		}
		moved = append(moved, entry{key: bytes.Clone(k), mac: mac, phone: p})
		return nil
	})
	if err != nil {
		return err
	}
	for _, e := range moved {
		p := e.phone
		p.MAC = e.mac
		var cur InventoryPhone
		found, err := getJSON(b, []byte(e.mac), &cur)
		if err != nil {
			return err
		}
		if found {
			cur.MAC = e.mac
			p = mergeSighting(cur, p)
		}
		if err := b.Delete(e.key); err != nil {
			return fmt.Errorf("delete phone %q: %w", e.key, err)
		}
		if err := putJSON(b, []byte(e.mac), p); err != nil {
			return err
		}
	}
	return nil
}
