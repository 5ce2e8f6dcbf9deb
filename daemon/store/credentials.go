package store

import (
	"crypto/rand"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Credential is a user's SIP digest account. The password is generated on
// first sight and only changes through RotateCredential.
type Credential struct {
	User     string    `json:"user"`
	Username string    `json:"username"` // the extension
	Password string    `json:"password"`
	Created  time.Time `json:"created"` // when Password was generated
}

const (
	passwordLength = 24
	// No 0/O/o, 1/l/I: the password is read off a screen and typed into phones.
	passwordAlphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
)

// newPassword draws passwordLength characters uniformly from
// passwordAlphabet with crypto/rand (rejection sampling avoids modulo bias).
func newPassword() (string, error) {
	const limit = 256 - 256%len(passwordAlphabet)
	out := make([]byte, 0, passwordLength)
	var buf [2 * passwordLength]byte
	for len(out) < passwordLength {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		for _, c := range buf {
			if int(c) < limit && len(out) < passwordLength {
				out = append(out, passwordAlphabet[int(c)%len(passwordAlphabet)])
			}
		}
	}
	return string(out), nil
}

// Credential returns user's credential, creating it on first sight. When
// username is non-empty and differs from the stored one (the extension
// changed) it is updated; the password is kept.
func (db *DB) Credential(user, username string) (Credential, error) {
	c, ok, err := db.LookupCredential(user)
	if err != nil {
		return Credential{}, err
	}
	if ok && (username == "" || c.Username == username) {
		return c, nil
	}
	err = db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketCredentials)
		if err != nil {
			return err
		}
		// Read again inside the write: a concurrent first sight may have won.
		found, err := getJSON(b, []byte(user), &c)
		switch {
		case err != nil:
			return err
		case !found:
			if c, err = newCredential(user, username); err != nil {
				return err
			}
		case username == "" || c.Username == username:
			return nil
		default:
			c.Username = username
		}
		return putJSON(b, []byte(user), c)
	})
	if err != nil {
		return Credential{}, fmt.Errorf("credential of %s: %w", user, err)
	}
	return c, nil
}

// LookupCredential returns user's credential without ever creating one.
func (db *DB) LookupCredential(user string) (Credential, bool, error) {
	if err := checkName("user", user); err != nil {
		return Credential{}, false, fmt.Errorf("read credential: %w", err)
	}
	var c Credential
	var found bool
	err := db.bolt.View(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketCredentials)
		if err != nil {
			return err
		}
		found, err = getJSON(b, []byte(user), &c)
		return err
	})
	if err != nil {
		return Credential{}, false, fmt.Errorf("read credential of %s: %w", user, err)
	}
	return c, found, nil
}

// RotateCredential replaces user's password (creating the credential if
// needed). An empty username keeps the stored one.
func (db *DB) RotateCredential(user, username string) (Credential, error) {
	if err := checkName("user", user); err != nil {
		return Credential{}, fmt.Errorf("rotate credential: %w", err)
	}
	var c Credential
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		b, err := bucket(tx, bucketCredentials)
		if err != nil {
			return err
		}
		var old Credential
		if _, err := getJSON(b, []byte(user), &old); err != nil {
			return err
		}
		if username == "" {
			username = old.Username
		}
		if c, err = newCredential(user, username); err != nil {
			return err
		}
		return putJSON(b, []byte(user), c)
	})
	if err != nil {
		return Credential{}, fmt.Errorf("rotate credential of %s: %w", user, err)
	}
	return c, nil
}

func newCredential(user, username string) (Credential, error) {
	pw, err := newPassword()
	if err != nil {
		return Credential{}, err
	}
	return Credential{User: user, Username: username, Password: pw, Created: time.Now().UTC()}, nil
}
