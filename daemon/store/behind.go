package store

import (
	"bytes"
	"fmt"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Write-behind. Registrations and call history are written after the SIP
// answer, many in one transaction: each commit costs an fsync (milliseconds
// on a small box's flash), and one per REGISTER or per finished call
// serialised every request behind the disk. The registrar's table in memory
// is the truth while the daemon runs; the store is what a restart starts
// from. A crash (kill -9, power cut) loses at most the writes of the last
// flush interval (200 ms by default): phones re-register and the last
// moment's history entries are missing. Writes that must survive once
// acknowledged (DND, away, credentials, subscriptions, the directory) stay
// synchronous and never go through this queue.

// Tuning of the queue.
const (
	defaultFlushEvery = 200 * time.Millisecond
	flushAt           = 1024    // queued writes that trigger an early flush
	maxQueued         = 1 << 16 // beyond it (a wedged disk) writes are dropped and counted
)

// behindOp is one queued write, applied inside the flush transaction.
type behindOp struct {
	what string // for the log: "binding 1001 sip:…"
	fn   func(tx *bolt.Tx) error
}

type behind struct {
	mu      sync.Mutex
	ops     []behindOp
	dropped uint64
	closed  bool

	flushMu sync.Mutex // one flush at a time, in queue order
	kick    chan struct{}
	stop    chan struct{}
	done    chan struct{}
	every   time.Duration
}

func startBehind(db *DB, every time.Duration) *behind {
	if every <= 0 {
		every = defaultFlushEvery
	}
	b := &behind{kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), every: every}
	go b.loop(db)
	return b
}

func (b *behind) loop(db *DB) {
	defer close(b.done)
	t := time.NewTicker(b.every)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
		}
		if err := b.flush(db); err != nil {
			db.log.Error("write queued changes", "error", err)
		}
	}
}

// queue adds one write; it never blocks on the disk.
func (b *behind) queue(op behindOp) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("%s: state database closed", op.what)
	}
	if len(b.ops) >= maxQueued {
		b.dropped++
		return fmt.Errorf("%s: write queue full (%d pending): disk too slow or stuck", op.what, maxQueued)
	}
	b.ops = append(b.ops, op)
	if len(b.ops) == flushAt {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// flush commits everything queued so far in one transaction. A write that
// fails (it was checked when queued, so this is rare) is logged and skipped;
// the others commit.
func (b *behind) flush(db *DB) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	b.mu.Lock()
	ops := b.ops
	b.ops = nil
	dropped := b.dropped
	b.dropped = 0
	b.mu.Unlock()
	if dropped > 0 {
		db.log.Error("queued state writes dropped: the disk did not keep up", "dropped", dropped)
	}
	if len(ops) == 0 {
		return nil
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		for _, op := range ops {
			if err := op.fn(tx); err != nil {
				db.log.Error("queued state write failed", "write", op.what, "error", err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit %d queued writes: %w", len(ops), err)
	}
	return nil
}

// close stops the loop and writes what is left.
func (b *behind) close(db *DB) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	b.mu.Unlock()
	close(b.stop)
	<-b.done
	if err := b.flush(db); err != nil {
		db.log.Error("write queued changes at close", "error", err)
	}
}

// readYourWrites commits the queue before a read of the queued buckets, so
// a reader (deskgatectl history, a restart's load) sees every write made
// before it. A failure is logged by flush's caller path and the read goes on.
func (db *DB) readYourWrites() {
	if err := db.behind.flush(db); err != nil {
		db.log.Error("write queued changes before a read", "error", err)
	}
}

// Flush commits every write queued so far before it returns.
func (db *DB) Flush() error { return db.behind.flush(db) }

// QueueBinding stores or replaces the binding for (b.User, b.Contact)
// behind the request (see the write-behind note above).
func (db *DB) QueueBinding(bd Binding) error {
	if err := checkName("user", bd.User); err != nil {
		return fmt.Errorf("put binding: %w", err)
	}
	if bd.Contact == "" {
		return fmt.Errorf("put binding for %s: empty contact", bd.User)
	}
	return db.behind.queue(behindOp{what: "put binding " + bd.User + " " + bd.Contact, fn: func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		return putJSON(bk, bindingKey(bd.User, bd.Contact), bd)
	}})
}

// QueueDeleteBinding removes one binding behind the request.
func (db *DB) QueueDeleteBinding(user, contact string) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("delete binding: %w", err)
	}
	return db.behind.queue(behindOp{what: "delete binding " + user + " " + contact, fn: func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		return bk.Delete(bindingKey(user, contact))
	}})
}

// QueueDeleteBindings removes every binding of user behind the request.
func (db *DB) QueueDeleteBindings(user string) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("delete bindings: %w", err)
	}
	return db.behind.queue(behindOp{what: "delete bindings of " + user, fn: func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		return deleteBindingsTx(bk, user)
	}})
}

func deleteBindingsTx(bk *bolt.Bucket, user string) error {
	prefix := bindingPrefix(user)
	var keys [][]byte
	c := bk.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	return deleteKeys(bk, keys)
}

// QueueHistory appends e to user's history behind the call's end (and
// trims the oldest entries beyond the limit in the same transaction).
func (db *DB) QueueHistory(user string, e HistoryEntry) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("append history: %w", err)
	}
	if err := e.validate(); err != nil {
		return fmt.Errorf("append history of %s: %w", user, err)
	}
	return db.behind.queue(behindOp{what: "history of " + user, fn: func(tx *bolt.Tx) error {
		return db.appendHistoryTx(tx, user, e)
	}})
}
