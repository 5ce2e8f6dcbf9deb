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
// flush interval (1 s by default, plus the milliseconds a commit takes):
// phones re-register and the last moment's history entries are missing.
// Each flush rewrites most of the bindings' pages whatever it carries, so
// fewer, larger flushes cost less CPU per registration in a storm. Writes that must survive once
// acknowledged (DND, away, credentials, subscriptions, the directory) stay
// synchronous and never go through this queue.

// Tuning of the queue.
const (
	defaultFlushEvery = time.Second
	flushAt           = 1024     // queued writes that trigger an early flush
	maxQueued         = 1 << 16  // beyond it (a wedged disk) writes are dropped and counted
	arenaChunk        = 64 << 10 // flush buffer for keys and values, bytes at a time
)

// bindingsFill is how full the flush packs the bindings' pages when it
// splits them (bbolt's default is half). A flush of a storm's refreshes
// rewrites nearly every page of the bucket, so half-full pages doubled the
// pages written, each a write(2) and a copy; refreshes replace values of
// the same length in place, so little room is needed for growth.
const bindingsFill = 0.9

// behindOp is one queued write, applied inside the flush transaction. It
// is plain data (no closure, no log text) so queueing one allocates
// nothing beyond the queue's own growth.
type behindOp struct {
	kind    opKind
	user    string        // every kind
	contact string        // opDeleteBinding
	bd      Binding       // opPutBinding
	hist    *HistoryEntry // opHistory
}

type opKind uint8

const (
	opPutBinding opKind = iota
	opDeleteBinding
	opDeleteBindings
	opHistory
)

// what names the write for the log.
func (op *behindOp) what() string {
	switch op.kind {
	case opPutBinding:
		return "put binding " + op.bd.User + " " + op.bd.Contact
	case opDeleteBinding:
		return "delete binding " + op.user + " " + op.contact
	case opDeleteBindings:
		return "delete bindings of " + op.user
	default:
		return "history of " + op.user
	}
}

// apply does the write in tx. arena holds the keys and values written:
// bbolt needs them until the transaction ends, and carving them from
// chunks costs an allocation per arenaChunk bytes instead of two per
// binding.
func (op *behindOp) apply(db *DB, tx *bolt.Tx, bk *bolt.Bucket, arena *[]byte) error {
	if op.kind == opHistory {
		return db.appendHistoryTx(tx, op.user, *op.hist)
	}
	var err error
	switch op.kind {
	case opPutBinding:
		bd := &op.bd
		need := 2*(len(bd.User)+len(bd.Contact)) + len(bd.Source) + len(bd.Transport) + len(bd.CallID) +
			len(bd.InstanceID) + len(bd.RegID) + len(bd.UserAgent) + 256
		if cap(*arena)-len(*arena) < need {
			// A new chunk rather than growing: what was put from the old
			// one stays where bbolt points to, and nothing is copied.
			*arena = make([]byte, 0, max(arenaChunk, need))
		}
		start := len(*arena)
		*arena = append(append(append(*arena, op.bd.User...), 0), op.bd.Contact...)
		mid := len(*arena)
		if *arena, err = appendBindingJSON(*arena, &op.bd); err != nil {
			*arena = (*arena)[:start]
			return err
		}
		a := *arena
		return bk.Put(a[start:mid:mid], a[mid:len(a):len(a)])
	case opDeleteBinding:
		return bk.Delete(bindingKey(op.user, op.contact))
	default:
		return deleteBindingsTx(bk, op.user)
	}
}

type behind struct {
	mu      sync.Mutex
	ops     []behindOp
	spare   []behindOp // the last flush's slice, emptied, for the next queue
	dropped uint64
	closed  bool
	arena   []byte // flush's last chunk for keys and values (under flushMu)

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
		return fmt.Errorf("%s: state database closed", op.what())
	}
	if len(b.ops) >= maxQueued {
		b.dropped++
		return fmt.Errorf("%s: write queue full (%d pending): disk too slow or stuck", op.what(), maxQueued)
	}
	if b.ops == nil {
		b.ops, b.spare = b.spare, nil
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
	arena := b.arena[:0]
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		bk, err := bucket(tx, bucketBindings)
		if err != nil {
			return err
		}
		bk.FillPercent = bindingsFill
		for i := range ops {
			if err := ops[i].apply(db, tx, bk, &arena); err != nil {
				db.log.Error("queued state write failed", "write", ops[i].what(), "error", err)
			}
		}
		return nil
	})
	// Keep the last chunk and the queue's slice for the next flush (the
	// transaction is over: bbolt no longer points into them), unless a
	// burst made the slice big (kept up to 1536 ops, about 330 KB).
	b.arena = arena[:0]
	if cap(ops) <= flushAt*3/2 {
		clear(ops) // let go of the strings
		b.mu.Lock()
		b.spare = ops[:0]
		b.mu.Unlock()
	}
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
	return db.behind.queue(behindOp{kind: opPutBinding, user: bd.User, bd: bd})
}

// QueueDeleteBinding removes one binding behind the request.
func (db *DB) QueueDeleteBinding(user, contact string) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("delete binding: %w", err)
	}
	return db.behind.queue(behindOp{kind: opDeleteBinding, user: user, contact: contact})
}

// QueueDeleteBindings removes every binding of user behind the request.
func (db *DB) QueueDeleteBindings(user string) error {
	if err := checkName("user", user); err != nil {
		return fmt.Errorf("delete bindings: %w", err)
	}
	return db.behind.queue(behindOp{kind: opDeleteBindings, user: user})
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
	return db.behind.queue(behindOp{kind: opHistory, user: user, hist: &e})
}
