package store

import (
	"crypto/rand"
	"fmt"
	"sync"
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
	defer db.creds.forget(user) // after the commit (or its failure)
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
	if c, found, ok := db.creds.get(user); ok {
		return c, found, nil
	}
	gen := db.creds.generation()
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
	db.creds.put(user, c, found, gen)
	return c, found, nil
}

// RotateCredential replaces user's password (creating the credential if
// needed). An empty username keeps the stored one.
func (db *DB) RotateCredential(user, username string) (Credential, error) {
	if err := checkName("user", user); err != nil {
		return Credential{}, fmt.Errorf("rotate credential: %w", err)
	}
	var c Credential
	defer db.creds.forget(user) // after the commit (or its failure)
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

// credCache remembers credentials as last read (found or not), so the
// digest check of every REGISTER and INVITE does not open a read
// transaction and decode JSON. Only this file writes the credentials bucket
// (besides the migration at Open, before any read): each write forgets the
// user's entry once it has committed, and gen, bumped by every forget,
// keeps a read that overlapped a write from caching what it read before
// that write.
type credCache struct {
	mu  sync.RWMutex
	gen uint64
	m   map[string]credEntry
}

type credEntry struct {
	c     Credential
	found bool
}

// maxCachedCredentials bounds the cache (it holds the directory's users,
// who are far fewer); past it the cache starts over.
const maxCachedCredentials = 1 << 16

func (cc *credCache) get(user string) (Credential, bool, bool) {
	cc.mu.RLock()
	e, ok := cc.m[user]
	cc.mu.RUnlock()
	return e.c, e.found, ok
}

func (cc *credCache) generation() uint64 {
	cc.mu.RLock()
	defer cc.mu.RUnlock()
	return cc.gen
}

// put caches what a read that started at generation gen found, unless a
// write has committed since.
func (cc *credCache) put(user string, c Credential, found bool, gen uint64) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.gen != gen {
		return
	}
	if cc.m == nil || len(cc.m) >= maxCachedCredentials {
		cc.m = make(map[string]credEntry)
	}
	cc.m[user] = credEntry{c: c, found: found}
}

func (cc *credCache) forget(user string) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.gen++
	delete(cc.m, user)
}
