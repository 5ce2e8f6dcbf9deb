package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Call history values (docs/spec.md "history USER").
const (
	DirectionIn  = "in"
	DirectionOut = "out"

	ResultAnswered = "answered"
	ResultMissed   = "missed"
	ResultDeclined = "declined"
	ResultFailed   = "failed"
)

// HistoryEntry is one call in a user's history.
type HistoryEntry struct {
	Time       time.Time `json:"time"`
	Direction  string    `json:"direction"` // DirectionIn or DirectionOut
	Peer       string    `json:"peer"`
	Result     string    `json:"result"`       // ResultAnswered, ResultMissed, ResultDeclined, ResultFailed
	OnBehalfOf string    `json:"on_behalf_of"` // executive's user id, "" if none
	CallID     string    `json:"call_id,omitempty"`
}

func (e HistoryEntry) validate() error {
	switch e.Direction {
	case DirectionIn, DirectionOut:
	default:
		return fmt.Errorf("direction %q: want %q or %q", e.Direction, DirectionIn, DirectionOut)
	}
	switch e.Result {
	case ResultAnswered, ResultMissed, ResultDeclined, ResultFailed:
	default:
		return fmt.Errorf("result %q: want answered, missed, declined or failed", e.Result)
	}
	return nil
}

// historyKey is the big-endian sequence number, so keys sort chronologically.
func historyKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(nil, seq)
}

// AppendHistory adds e to user's history and, in the same transaction,
// drops the oldest entries beyond the per-user limit.
func (db *DB) AppendHistory(user string, e HistoryEntry) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("append history: %w", err)
	}
	if err := e.validate(); err != nil {
		return fmt.Errorf("append history of %s: %w", user, err)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error { return db.appendHistoryTx(tx, user, e) })
	if err != nil {
		return fmt.Errorf("append history of %s: %w", user, err)
	}
	return nil
}

func (db *DB) appendHistoryTx(tx *bolt.Tx, user string, e HistoryEntry) error {
	hb, err := bucket(tx, bucketHistory)
	if err != nil {
		return err
	}
	ub, err := hb.CreateBucketIfNotExists([]byte(user))
	if err != nil {
		return err
	}
	seq, err := ub.NextSequence()
	if err != nil {
		return err
	}
	if err := putJSON(ub, historyKey(seq), e); err != nil {
		return err
	}
	return trimHistory(ub, db.historyLimit)
}

// trimHistory deletes the oldest entries so at most limit remain.
func trimHistory(b *bolt.Bucket, limit int) error {
	c := b.Cursor()
	first, _ := c.First()
	last, _ := c.Last()
	if first == nil || keySpan(first, last) <= uint64(limit) {
		return nil // keys are distinct sequence numbers: count <= span
	}
	// Walk back limit entries from the newest; everything before stays out.
	keep, _ := c.Last()
	for i := 1; i < limit && keep != nil; i++ {
		keep, _ = c.Prev()
	}
	if keep == nil {
		return nil
	}
	keep = bytes.Clone(keep)
	var old [][]byte
	for k, _ := c.First(); k != nil && bytes.Compare(k, keep) < 0; k, _ = c.Next() {
		old = append(old, bytes.Clone(k))
	}
	return deleteKeys(b, old)
}

func keySpan(first, last []byte) uint64 {
	if len(first) != 8 || len(last) != 8 {
		return ^uint64(0) // not ours: count the slow way
	}
	return binary.BigEndian.Uint64(last) - binary.BigEndian.Uint64(first) + 1
}

// History returns up to limit of user's entries, newest first; limit <= 0
// returns all of them.
func (db *DB) History(user string, limit int) ([]HistoryEntry, error) {
	if err := checkName("user", user); err != nil {
		return nil, fmt.Errorf("read history: %w", err)
	}
	db.readYourWrites()
	var out []HistoryEntry
	err := db.bolt.View(func(tx *bolt.Tx) error {
		hb, err := bucket(tx, bucketHistory)
		if err != nil {
			return err
		}
		ub := hb.Bucket([]byte(user))
		if ub == nil {
			return nil
		}
		c := ub.Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var e HistoryEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("decode history entry %x: %w", k, err)
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read history of %s: %w", user, err)
	}
	return out, nil
}
