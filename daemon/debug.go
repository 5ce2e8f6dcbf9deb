package daemon

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"runtime"
	"strconv"
	"sync/atomic"
)

// Go's profiles, served on the control socket only: the socket is 0660
// root/deskgate, so whoever can read profiles can already reconfigure the
// daemon. They exist to find hot spots under real load (the SIP bench), which
// a test binary cannot reproduce.
const debugPprofPath = "/debug/pprof/"

// registerDebug adds Go's pprof handlers and a switch for the heap, block and
// mutex profiles (off by default in deskgated: block and mutex sampling cost
// CPU on every contended lock, heap sampling keeps about a megabyte of
// sampled stacks for good).
func registerDebug(m *http.ServeMux) {
	m.HandleFunc("GET "+debugPprofPath, pprof.Index)
	m.HandleFunc("GET "+debugPprofPath+"cmdline", pprof.Cmdline)
	m.HandleFunc("GET "+debugPprofPath+"profile", pprof.Profile)
	m.HandleFunc("GET "+debugPprofPath+"symbol", pprof.Symbol)
	m.HandleFunc("POST "+debugPprofPath+"symbol", pprof.Symbol)
	m.HandleFunc("GET "+debugPprofPath+"trace", pprof.Trace)
	m.HandleFunc("POST "+debugPprofPath+"sampling", setSampling)
}

// blockRate remembers the block profile rate: the runtime has no getter.
var blockRate atomic.Int64

// setSampling sets the heap profile rate (bytes allocated per sample; 0 =
// off, 524288 = Go's default), the block profile rate (ns; 0 = off) and the
// mutex profile fraction (1/n of contention events; 0 = off) from the query,
// e.g. POST /debug/pprof/sampling?heap=524288&block=10000&mutex=10. A heap
// profile shows what was allocated since sampling was switched on.
func setSampling(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	heap, block, mutex := -1, -1, -1
	for name, dst := range map[string]*int{"heap": &heap, "block": &block, "mutex": &mutex} {
		s := q.Get(name)
		if s == "" {
			continue
		}
		v, err := strconv.Atoi(s)
		if err != nil || v < 0 {
			http.Error(w, fmt.Sprintf("%s: want a non-negative integer, got %q", name, s), http.StatusBadRequest)
			return
		}
		*dst = v
	}
	if heap >= 0 {
		// The runtime reads the rate on each allocation without a lock;
		// a sample more or less around the switch does not matter.
		runtime.MemProfileRate = heap
	}
	if block >= 0 {
		runtime.SetBlockProfileRate(block)
		blockRate.Store(int64(block))
	}
	prevMutex := runtime.SetMutexProfileFraction(-1)
	if mutex >= 0 {
		runtime.SetMutexProfileFraction(mutex)
		prevMutex = mutex
	}
	fmt.Fprintf(w, "heap=%d block=%d mutex=%d\n", runtime.MemProfileRate, blockRate.Load(), prevMutex)
}
