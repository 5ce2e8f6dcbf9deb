package provisioning

import (
	"net/netip"
	"sync"
	"time"
)

// Request log lines are bounded per source: a scan or flood must not turn
// into one log line per request (429s included). A booting phone fetches a
// handful of files, well inside the burst.
const (
	logBurst = 20  // lines a quiet source may log at once
	logRate  = 0.2 // lines per second after that
)

// logSampler decides which request lines are logged. Lines beyond a
// source's budget are counted, and the count is reported on that source's
// next logged line (suppressed=N). Both tables are bounded: when the
// count table is full, drops of sources not in it go uncounted.
type logSampler struct {
	lim *limiter
	max int

	mu      sync.Mutex
	dropped map[netip.Addr]int
}

func newLogSampler(maxSources int) *logSampler {
	return &logSampler{lim: newLimiter(logRate, logBurst, maxSources), max: maxSources,
		dropped: make(map[netip.Addr]int)}
}

// allow reports whether src may log a line at now and, if so, how many of
// its lines were suppressed since its last one.
func (l *logSampler) allow(src netip.Addr, now time.Time) (bool, int) {
	ok := l.lim.allow(src, now)
	l.mu.Lock()
	defer l.mu.Unlock()
	if ok {
		n := l.dropped[src]
		delete(l.dropped, src)
		return true, n
	}
	if _, counted := l.dropped[src]; counted || len(l.dropped) < l.max {
		l.dropped[src]++
	}
	return false, 0
}
