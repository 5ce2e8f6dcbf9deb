package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Binding is one registered contact of a user (RFC 3261 §10), kept so
// registrations survive a restart.
type Binding struct {
	User       string    `json:"user"`
	Contact    string    `json:"contact"`
	Source     string    `json:"source,omitempty"` // "ip:port" the REGISTER came from
	Transport  string    `json:"transport,omitempty"`
	CallID     string    `json:"call_id,omitempty"`
	InstanceID string    `json:"instance_id,omitempty"` // +sip.instance, without its quotes
	RegID      string    `json:"reg_id,omitempty"`      // RFC 5626 reg-id
	UserAgent  string    `json:"user_agent,omitempty"`
	CSeq       uint32    `json:"cseq"`
	Expires    time.Time `json:"expires"`
	Updated    time.Time `json:"updated"`
}

// live reports whether the binding has not expired at now.
func (b Binding) live(now time.Time) bool { return b.Expires.After(now) }

// bindingKey is user NUL contact, so one user's bindings are a key prefix.
func bindingKey(user, contact string) []byte {
	return append(bindingPrefix(user), contact...)
}

func bindingPrefix(user string) []byte {
	return append([]byte(user), 0)
}

// PutBinding stores or replaces the binding for (b.User, b.Contact).
func (db *DB) PutBinding(b Binding) error {
	if err := checkName("user", b.User); err != nil {
		return fmt.Errorf("put binding: %w", err)
	}
	if b.Contact == "" {
		return fmt.Errorf("put binding for %s: empty contact", b.User)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		return putJSON(bk, bindingKey(b.User, b.Contact), b)
	})
	if err != nil {
		return fmt.Errorf("put binding %s %s: %w", b.User, b.Contact, err)
	}
	return nil
}

// DeleteBinding removes one binding; a missing one is not an error.
func (db *DB) DeleteBinding(user, contact string) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("delete binding: %w", err)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		return bk.Delete(bindingKey(user, contact))
	})
	if err != nil {
		return fmt.Errorf("delete binding %s %s: %w", user, contact, err)
	}
	return nil
}

// DeleteBindings removes every binding of user.
func (db *DB) DeleteBindings(user string) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("delete bindings: %w", err)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		return deleteBindingsTx(bk, user)
	})
	if err != nil {
		return fmt.Errorf("delete bindings of %s: %w", user, err)
	}
	return nil
}

// Bindings returns user's unexpired bindings, ordered by contact.
func (db *DB) Bindings(user string, now time.Time) ([]Binding, error) {
	if err := checkName("user", user); err != nil {
		return nil, fmt.Errorf("read bindings: %w", err)
	}
	db.readYourWrites()
	var out []Binding
	err := db.bolt.View(func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		prefix := bindingPrefix(user)
		c := bk.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if out, err = appendLive(out, k, v, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read bindings of %s: %w", user, err)
	}
	return out, nil
}

// AllBindings returns every unexpired binding, ordered by user then contact.
func (db *DB) AllBindings(now time.Time) ([]Binding, error) {
	db.readYourWrites()
	var out []Binding
	err := db.bolt.View(func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		return bk.ForEach(func(k, v []byte) error {
			out, err = appendLive(out, k, v, now)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read all bindings: %w", err)
	}
	return out, nil
}

// PurgeExpired deletes the bindings expired at now and returns how many.
func (db *DB) PurgeExpired(now time.Time) (int, error) {
	db.readYourWrites() // a queued put of an expired binding must not outlive the purge
	var n int
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		// Collect first: deleting under a cursor can skip keys.
		var expired [][]byte
		err = bk.ForEach(func(k, v []byte) error {
			var b struct {
				Expires time.Time `json:"expires"`
			}
			if err := json.Unmarshal(v, &b); err != nil {
				return fmt.Errorf("decode binding %q: %w", k, err)
			}
			if !b.Expires.After(now) {
				expired = append(expired, bytes.Clone(k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		n = len(expired)
		return deleteKeys(bk, expired)
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired bindings: %w", err)
	}
	return n, nil
}

func appendLive(out []Binding, k, v []byte, now time.Time) ([]Binding, error) {
	var b Binding
	if err := json.Unmarshal(v, &b); err != nil {
		return out, fmt.Errorf("decode binding %q: %w", k, err)
	}
	if !b.live(now) {
		return out, nil
	}
	return append(out, b), nil
}

func deleteKeys(b *bolt.Bucket, keys [][]byte) error {
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("delete %q: %w", k, err)
		}
	}
	return nil
}

// appendBindingJSON appends exactly what json.Marshal writes for b (the
// stored format stays JSON, readable by every build), without reflection
// for the usual case: strings of printable ASCII that JSON leaves as they
// are, and times encoding/json can write. Anything else goes through
// json.Marshal.
func appendBindingJSON(dst []byte, b *Binding) ([]byte, error) {
	if !plainJSON(b.User) || !plainJSON(b.Contact) || !plainJSON(b.Source) || !plainJSON(b.Transport) ||
		!plainJSON(b.CallID) || !plainJSON(b.InstanceID) || !plainJSON(b.RegID) || !plainJSON(b.UserAgent) ||
		!plainJSONTime(b.Expires) || !plainJSONTime(b.Updated) {
		v, err := json.Marshal(b)
		if err != nil {
			return dst, fmt.Errorf("encode binding %s %s: %w", b.User, b.Contact, err)
		}
		return append(dst, v...), nil
	}
	dst = appendField(dst, `{"user":"`, b.User)
	dst = appendField(dst, `","contact":"`, b.Contact)
	dst = append(dst, '"')
	for _, f := range [...]struct{ key, v string }{
		{`,"source":"`, b.Source}, {`,"transport":"`, b.Transport}, {`,"call_id":"`, b.CallID},
		{`,"instance_id":"`, b.InstanceID}, {`,"reg_id":"`, b.RegID}, {`,"user_agent":"`, b.UserAgent},
	} {
		if f.v != "" { // omitempty
			dst = append(appendField(dst, f.key, f.v), '"')
		}
	}
	dst = strconv.AppendUint(append(dst, `,"cseq":`...), uint64(b.CSeq), 10)
	dst = append(b.Expires.AppendFormat(append(dst, `,"expires":"`...), time.RFC3339Nano), '"')
	dst = append(b.Updated.AppendFormat(append(dst, `,"updated":"`...), time.RFC3339Nano), '"', '}')
	return dst, nil
}

func appendField(dst []byte, key, v string) []byte { return append(append(dst, key...), v...) }

// plainJSON reports whether encoding/json writes s between quotes as it
// is: printable ASCII other than the quote, the backslash and the
// characters it escapes for HTML (<, >, &).
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// plainJSONTime reports whether t is written by time.Time.MarshalJSON as
// its RFC 3339 form with nanoseconds (a four-digit year, an offset in
// whole minutes within a day); otherwise MarshalJSON errs or differs.
func plainJSONTime(t time.Time) bool {
	if y := t.Year(); y < 0 || y > 9999 {
		return false
	}
	_, off := t.Zone()
	return off%60 == 0 && off > -24*3600 && off < 24*3600
}
