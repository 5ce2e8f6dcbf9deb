package routing

import (
	"sync"
	"time"
)

// inflight owns a group of goroutines that must all end before the
// transports close and the store is closed: request handlers, NOTIFY and
// check-sync senders. enter happens under mu and never after close, so
// Wait cannot race with Add (a bare WaitGroup whose Add may run during
// Wait panics: "WaitGroup is reused before previous Wait has returned").
type inflight struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers one unit of work; false once the group is closed.
func (w *inflight) enter() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.wg.Add(1)
	return true
}

// leave ends a unit of work that enter admitted.
func (w *inflight) leave() { w.wg.Done() }

// start runs f in a goroutine owned by the group; false (and f not run)
// once the group is closed.
func (w *inflight) start(f func()) bool {
	if !w.enter() {
		return false
	}
	go func() {
		defer w.leave()
		f()
	}()
	return true
}

// stop refuses new work and waits until deadline for the running work;
// it reports whether everything ended.
func (w *inflight) stop(deadline time.Time) bool {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	done := make(chan struct{})
	go func() { w.wg.Wait(); close(done) }()
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
