package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// bucketSubscriptions holds the SIP event subscriptions the daemon serves
// (key LEDs), so a restart resumes them with a NOTIFY instead of leaving
// every lamp dark until the phones refresh. It is created on first write
// (CreateBucketIfNotExists) and read as empty while missing, so it needs
// no schema migration.
const bucketSubscriptions = "subscriptions"

// Subscription is one SUBSCRIBE dialog in which the daemon is the notifier
// (RFC 6665). Local is our side (the To of the SUBSCRIBE, with our tag);
// Remote is the subscriber's (its From). CSeq and Version are the last
// values used when the record was written; a resumed subscription must
// continue above them.
type Subscription struct {
	ID        string    `json:"id"`      // key: unique per dialog and event id (the caller's choice)
	User      string    `json:"user"`    // authenticated subscriber
	Event     string    `json:"event"`   // Event header to echo: package[;id=..]
	Package   string    `json:"package"` // "dialog", "as-feature-event"
	Resource  string    `json:"resource"`
	CallID    string    `json:"call_id"`
	LocalTag  string    `json:"local_tag"`
	RemoteTag string    `json:"remote_tag"`
	LocalURI  string    `json:"local_uri"`
	RemoteURI string    `json:"remote_uri"`
	Contact   string    `json:"contact"` // remote target: the subscriber's Contact URI
	RouteSet  []string  `json:"route_set,omitempty"`
	Source    string    `json:"source,omitempty"` // "ip:port" the SUBSCRIBE came from
	Transport string    `json:"transport,omitempty"`
	Device    string    `json:"device,omitempty"` // as-feature-event: the device name the phone uses
	CSeq      uint32    `json:"cseq"`
	Version   uint32    `json:"version"`
	Expires   time.Time `json:"expires"`
	Created   time.Time `json:"created"`
}

// PutSubscription stores or replaces the subscription with s.ID.
func (db *DB) PutSubscription(s Subscription) error {
	if err := checkName("subscription id", s.ID); err != nil {
		return fmt.Errorf("put subscription: %w", err)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists([]byte(bucketSubscriptions))
		if err != nil {
			return err
		}
		return putJSON(b, []byte(s.ID), s)
	})
	if err != nil {
		return fmt.Errorf("put subscription %s: %w", s.ID, err)
	}
	return nil
}

// DeleteSubscription removes a subscription; a missing one is not an error.
func (db *DB) DeleteSubscription(id string) error {
	if err := checkName("subscription id", id); err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSubscriptions))
		if b == nil {
			return nil
		}
		return b.Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("delete subscription %s: %w", id, err)
	}
	return nil
}

// Subscriptions returns the subscriptions unexpired at now, ordered by id.
func (db *DB) Subscriptions(now time.Time) ([]Subscription, error) {
	var out []Subscription
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSubscriptions))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			var s Subscription
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode subscription %q: %w", k, err)
			}
			if s.Expires.After(now) {
				s.RouteSet = slices.Clone(s.RouteSet)
				out = append(out, s)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read subscriptions: %w", err)
	}
	return out, nil
}

// PurgeExpiredSubscriptions deletes the subscriptions expired at now and
// returns how many.
func (db *DB) PurgeExpiredSubscriptions(now time.Time) (int, error) {
	var n int
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketSubscriptions))
		if b == nil {
			return nil
		}
		// Collect first: deleting under a cursor can skip keys.
		var expired [][]byte
		err := b.ForEach(func(k, v []byte) error {
			var s Subscription
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("decode subscription %q: %w", k, err)
			}
			if !s.Expires.After(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		n = len(expired)
		return deleteKeys(b, expired)
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired subscriptions: %w", err)
	}
	return n, nil
}
