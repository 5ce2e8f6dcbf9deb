package routing

import (
	"context"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// FloodOptions bound what the LAN can make the SIP stack hold or do before
// a request has authenticated. Every request of a source IP takes a token
// from that source's budget (Burst at once, then Rate per second); beyond
// it the source gets a stateless 503 with Retry-After, at most RefuseBurst
// at once and RefuseRate per second, and anything more is dropped
// silently. MaxTransactions caps the server transactions alive at once
// (each a few KB; an answered one ends at its final response, except an
// INVITE refused and not yet ACKed, and leaves a compact record in the
// retransmission cache, bounded on its own: retrans.go); beyond it every
// request gets a stateless 503. Trusted trunk sources and loopback
// addresses (the box itself; the kernel drops 127/8 and ::1 arriving from
// the network) have no per-source budget; the cap applies to everyone.
// Zero values take the defaults noted.
type FloodOptions struct {
	Rate            float64 // requests per second per source; default 100
	Burst           int     // default 400
	RefuseRate      float64 // 503s per second per source over budget; default 5
	RefuseBurst     int     // default 20
	MaxTransactions int     // default 8192
}

func (o FloodOptions) withDefaults() FloodOptions {
	if o.Rate <= 0 {
		o.Rate = 100
	}
	if o.Burst <= 0 {
		o.Burst = 400
	}
	if o.RefuseRate <= 0 {
		o.RefuseRate = 5
	}
	if o.RefuseBurst <= 0 {
		o.RefuseBurst = 20
	}
	if o.MaxTransactions <= 0 {
		o.MaxTransactions = 8192
	}
	return o
}

// floodRetryAfter is the Retry-After of a 503 for budget or cap, seconds.
const floodRetryAfter = "5"

// budgetVerdict is what the per-source budget says about one request.
type budgetVerdict int

const (
	budgetOK     budgetVerdict = iota
	budgetRefuse               // answer 503 with Retry-After
	budgetDrop                 // say nothing
	overCapacity               // not the budget: the transaction cap (503)
)

// budgets is the per-source request budget: two token buckets per source
// IP, one for requests and one for the 503s that refuse them.
type budgets struct {
	opts FloodOptions

	mu        sync.Mutex
	sources   map[netip.Addr]*sourceBudget
	lastSweep time.Time
}

type sourceBudget struct {
	requests, refusals bucket
}

func newBudgets(opts FloodOptions) *budgets {
	return &budgets{opts: opts.withDefaults(), sources: map[netip.Addr]*sourceBudget{}}
}

// take spends one request of src's budget.
func (b *budgets) take(src netip.Addr, now time.Time) budgetVerdict {
	b.mu.Lock()
	defer b.mu.Unlock()
	sb, ok := b.sources[src]
	if !ok {
		if len(b.sources) >= maxLimitSources && now.Sub(b.lastSweep) >= time.Second {
			b.sweepLocked(now) // at most once a second: a sweep walks the table
		}
		if len(b.sources) >= maxLimitSources {
			// Under a flood from many sources newcomers wait, but are told
			// so within the refusal rate of a shared overflow entry.
			sb, ok = b.sources[netip.Addr{}]
			if !ok {
				sb = &sourceBudget{requests: bucket{tokens: float64(b.opts.Burst), last: now},
					refusals: bucket{tokens: float64(b.opts.RefuseBurst), last: now}}
				b.sources[netip.Addr{}] = sb
			}
			return b.refuse(sb, now)
		}
		sb = &sourceBudget{requests: bucket{tokens: float64(b.opts.Burst), last: now},
			refusals: bucket{tokens: float64(b.opts.RefuseBurst), last: now}}
		b.sources[src] = sb
	}
	if takeToken(&sb.requests, b.opts.Rate, b.opts.Burst, now) {
		return budgetOK
	}
	return b.refuse(sb, now)
}

func (b *budgets) refuse(sb *sourceBudget, now time.Time) budgetVerdict {
	if takeToken(&sb.refusals, b.opts.RefuseRate, b.opts.RefuseBurst, now) {
		return budgetRefuse
	}
	return budgetDrop
}

// sweep forgets sources whose buckets are both full again.
func (b *budgets) sweep(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sweepLocked(now)
}

func (b *budgets) sweepLocked(now time.Time) {
	b.lastSweep = now
	for src, sb := range b.sources {
		refillBucket(&sb.requests, b.opts.Rate, b.opts.Burst, now)
		refillBucket(&sb.refusals, b.opts.RefuseRate, b.opts.RefuseBurst, now)
		if sb.requests.tokens >= float64(b.opts.Burst) && sb.refusals.tokens >= float64(b.opts.RefuseBurst) {
			delete(b.sources, src)
		}
	}
}

func (b *budgets) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.sources)
}

func refillBucket(b *bucket, rate float64, burst int, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(float64(burst), b.tokens+d.Seconds()*rate)
		b.last = now
	}
}

func takeToken(b *bucket, rate float64, burst int, now time.Time) bool {
	refillBucket(b, rate, burst, now)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// floodLog rate-limits what a flood writes to the log: the first refusal
// at once, then one summary line per floodLogInterval with the counts
// since the last line and a few of the sources.
type floodLog struct {
	log *slog.Logger

	mu       sync.Mutex
	last     time.Time
	refused  int // 503 for the per-source budget
	dropped  int // silently dropped over the refusal ceiling
	capped   int // 503 for the transaction cap
	sources  []netip.Addr
	moreSrcs int
}

const (
	floodLogInterval = 30 * time.Second
	floodLogSources  = 8
)

// note counts one refusal (budgetRefuse, budgetDrop or overCapacity) from
// src and writes a line when one is due.
func (f *floodLog) note(kind budgetVerdict, src netip.Addr, now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	switch kind {
	case budgetRefuse:
		f.refused++
	case budgetDrop:
		f.dropped++
	case overCapacity:
		f.capped++
	}
	if src.IsValid() && !containsAddr(f.sources, src) {
		if len(f.sources) < floodLogSources {
			f.sources = append(f.sources, src)
		} else {
			f.moreSrcs++ // an upper bound: a source may be counted again
		}
	}
	if now.Sub(f.last) >= floodLogInterval {
		f.flushLocked(now)
	}
}

// flush writes the pending summary, if any (the load check calls it, so the
// tail of a flood is reported too).
func (f *floodLog) flush(now time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now.Sub(f.last) >= floodLogInterval {
		f.flushLocked(now)
	}
}

func (f *floodLog) flushLocked(now time.Time) {
	if f.refused+f.dropped+f.capped == 0 {
		return
	}
	srcs := make([]string, len(f.sources))
	for i, a := range f.sources {
		srcs[i] = a.String()
	}
	f.log.Warn("SIP requests refused under load", "over_budget_503", f.refused, "over_budget_dropped", f.dropped,
		"transaction_cap_503", f.capped, "sources", srcs, "other_sources", f.moreSrcs)
	f.last = now
	f.refused, f.dropped, f.capped, f.sources, f.moreSrcs = 0, 0, 0, nil, 0
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// guardTx is the server transaction the handlers see. Until the request
// is admitted (it authenticated, comes from a trusted trunk source, or
// carries a dialog token we issued) every response goes straight to the
// request's connection and a final one ends the transaction at once, so an
// unauthenticated or refused request leaves no state behind and its answer
// is never retransmitted. The client's retransmissions are answered
// afresh, as a stateless server does (RFC 3261 §8.2.7); the ACK to a
// stateless non-2xx arrives as a new request and is dropped by handleAck.
//
// Once admitted, a final response ends the transaction too, leaving a
// compact record in the retransmission cache (retrans.go) instead of
// sipgo's transaction: a non-INVITE final is sent here and its bytes kept
// for Timer J; an INVITE's 2xx goes through the transaction (which decides
// a race with the caller's CANCEL) and its key is kept for Timer L; an
// INVITE's non-2xx stays in the transaction, which retransmits it, until
// the ACK (settle). Responses after the end (2xx retransmissions relayed
// from downstream, another branch's 2xx) go straight to the connection.
type guardTx struct {
	sip.ServerTransaction
	conn     sip.Connection // the request's connection; nil = always stateful
	admitted atomic.Bool

	req   *sip.Request  // set by keep; nil = no retransmission records
	cache *retransCache // where the records go
	now   func() time.Time
	ended atomic.Bool // the transaction was ended early: send straight
	acks  atomic.Bool // settle started waiting for the ACK
}

func newGuardTx(tx sip.ServerTransaction) *guardTx {
	g := &guardTx{ServerTransaction: tx}
	if c, ok := tx.(interface{ Connection() sip.Connection }); ok {
		g.conn = c.Connection()
	}
	return g
}

// keep lets g end its admitted transaction early, recording what a
// retransmission of req needs in cache.
func (g *guardTx) keep(req *sip.Request, cache *retransCache, now func() time.Time) {
	g.req, g.cache, g.now = req, cache, now
}

// Respond sends res through the transaction once the request is admitted,
// and statelessly before.
func (g *guardTx) Respond(res *sip.Response) error {
	if g.conn == nil {
		return g.ServerTransaction.Respond(res)
	}
	if g.ended.Load() {
		return g.conn.WriteMsg(res)
	}
	if g.admitted.Load() {
		if res.StatusCode < 200 || g.req == nil {
			return g.ServerTransaction.Respond(res)
		}
		if g.req.IsInvite() {
			return g.respondInvite(res)
		}
		return g.respondFinal(res)
	}
	err := g.conn.WriteMsg(res)
	if res.StatusCode >= 200 {
		// Nothing more goes through this transaction: end it now, which
		// also stops sipgo's timer that would send an INVITE's 100 Trying
		// 200 ms in (through a transaction about to end).
		g.ServerTransaction.Terminate()
	}
	return err
}

// respondFinal sends an admitted non-INVITE request's final response and
// ends the transaction, leaving the response's bytes for Timer J. Over a
// reliable transport nothing is kept (sipgo ends the transaction at once
// there too); when no record can be made (the cache is full, the address
// is a name, the response needs more than a datagram) the transaction
// keeps it as before.
func (g *guardTx) respondFinal(res *sip.Response) error {
	return g.respondRecorded(res, nil)
}

// respondRebuilt is respondFinal for a REGISTER's 200 that can be built
// again from the bindings under key: the record keeps the key, not the
// response (retransmission, reanswerRegister).
func (g *guardTx) respondRebuilt(res *sip.Response, key string) error {
	if g.conn == nil || g.ended.Load() || !g.admitted.Load() || g.req == nil || key == "" {
		return g.Respond(res)
	}
	return g.respondRecorded(res, []byte(key))
}

// respondRecorded sends res and records it: its bytes, or key to rebuild
// it from when key is set.
func (g *guardTx) respondRecorded(res *sip.Response, key []byte) error {
	k, ok := txKey(g.req, "")
	if !ok {
		return g.ServerTransaction.Respond(res)
	}
	to, err := netip.ParseAddrPort(res.Destination())
	if err != nil {
		return g.ServerTransaction.Respond(res)
	}
	buf := serialize(res)
	defer releaseSerialized(buf)
	b := buf.Bytes()
	if len(b) > sip.UDPMTUSize-200 {
		return g.ServerTransaction.Respond(res) // sipgo refuses it the same way
	}
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	rec := rtRecord{res: b, to: to, conn: g.conn}
	if key != nil {
		rec.res, rec.rebuild = key, true
	}
	if !g.cache.finals.put(k, rec, g.now()) { // copies rec.res
		return g.ServerTransaction.Respond(res)
	}
	g.ended.Store(true)
	err = sendRecorded(g.conn, b, to)
	g.ServerTransaction.Terminate()
	return err
}

// respondInvite sends an admitted INVITE's final response through the
// transaction, which decides a race with the caller's CANCEL (an error
// then: the 487 went first). A 2xx ends the transaction at once (sipgo's
// Timer L is 0: timers.go) and leaves its key for Timer L; the key is put
// before the 2xx goes, so a retransmitted INVITE always finds the
// transaction or the key.
func (g *guardTx) respondInvite(res *sip.Response) error {
	if res.StatusCode >= 300 {
		return g.ServerTransaction.Respond(res) // waits for the ACK (settle)
	}
	k, ok := txKey(g.req, "")
	if ok {
		g.cache.accepted.put(k, rtRecord{}, g.now())
	}
	// Over TCP the caller does not retransmit: nothing to remember.
	if err := g.ServerTransaction.Respond(res); err != nil {
		if ok {
			g.cache.accepted.remove(k)
		}
		return err
	}
	g.ended.Store(true)
	g.ServerTransaction.Terminate()
	return nil
}

// settle runs when the handler has returned: an admitted INVITE whose
// transaction still waits for the ACK to its non-2xx final (its own, or
// the 487 sipgo sent for a CANCEL) is ended when the ACK comes, leaving its
// key for Timer I so a retransmitted ACK or INVITE is absorbed. Without an
// ACK sipgo ends it at Timer H.
func (g *guardTx) settle() {
	if g.req == nil || !g.req.IsInvite() || g.ended.Load() || !g.admitted.Load() || g.conn == nil {
		return
	}
	k, ok := txKey(g.req, "")
	if !ok {
		return // over TCP sipgo's Timer I is 0: the ACK ends it already
	}
	select {
	case <-g.ServerTransaction.Done():
		return
	default:
	}
	if !g.acks.CompareAndSwap(false, true) {
		return
	}
	go func() {
		select {
		case <-g.ServerTransaction.Acks():
			// When the table is full a stray ACK is not absorbed:
			// handleAck drops one outside a dialog, and the callee's
			// transaction layer one relayed inside.
			g.cache.finals.put(k, rtRecord{}, g.now())
			g.ended.Store(true)
			g.ServerTransaction.Terminate()
		case <-g.ServerTransaction.Done():
		}
	}()
}

// Connection is the request's connection (nil when unknown), for answers
// that must stay stateless after admission (an overload refusal).
func (g *guardTx) Connection() sip.Connection { return g.conn }

// markAdmitted marks tx's request as trusted: from now on its responses go
// through the transaction (retransmitted over UDP, retransmissions of the
// request absorbed). Called where a request authenticates, comes from the
// trunk, or is relayed inside a dialog.
func markAdmitted(tx sip.ServerTransaction) {
	if g, ok := tx.(*guardTx); ok {
		g.admitted.Store(true)
	}
}

// track counts tx among the live server transactions until it terminates
// and returns the count including it.
func (s *Server) track(tx sip.ServerTransaction) int64 {
	n := s.liveTx.Add(1)
	for {
		p := s.livePeak.Load()
		if n <= p || s.livePeak.CompareAndSwap(p, n) {
			break
		}
	}
	if !tx.OnTerminate(s.txEnded) {
		s.liveTx.Add(-1) // already over
	}
	return n
}

// overLoad applies the per-source budget and the transaction cap to a
// request about to be handled (live counts it). It answers (statelessly:
// tx is not admitted) or drops the request and returns true when it must
// go no further.
func (s *Server) overLoad(req *sip.Request, tx sip.ServerTransaction, live int64) bool {
	now := s.now()
	ip, ok := sourceIP(req)
	verdict := budgetOK
	if ok && !ip.IsLoopback() && !s.trustedSource(req) {
		verdict = s.budgets.take(ip, now)
	}
	if verdict == budgetOK && live <= int64(s.budgets.opts.MaxTransactions) {
		return false
	}
	if verdict == budgetOK {
		verdict = overCapacity
		s.overCap.Add(1)
	} else {
		s.overBudget.Add(1)
	}
	s.floodLog.note(verdict, ip, now)
	if verdict == budgetDrop || req.IsAck() {
		return true
	}
	res := sip.NewResponseFromRequest(req, 503, "Service Unavailable", nil)
	res.AppendHeader(sip.NewHeader("Retry-After", floodRetryAfter))
	s.send(tx, res)
	return true
}

// heavyLoadTx is the live transaction count from which a load check
// interval counts as heavy load (a flood, or a burst of authenticated traffic).
const heavyLoadTx = 1024

// afterLoad decides at each load check whether heavy load has just ended:
// the interval that ended was quiet (a live transaction peak under
// heavyLoadTx, no refusals) and the one before was not.
func afterLoad(wasHeavy bool, peak int64, refused uint64) (release, heavy bool) {
	heavy = peak >= heavyLoadTx || refused > 0
	return wasHeavy && !heavy, heavy
}

// loadCheckInterval paces loadLoop: idle memory goes back to the system
// 10-20 s after heavy load has ended.
const loadCheckInterval = 10 * time.Second

// loadLoop runs sweepLoad every loadCheckInterval until ctx is done.
func (s *Server) loadLoop(ctx context.Context) {
	t := time.NewTicker(loadCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sweepLoad(s.now())
		}
	}
}

// sweepLoad runs every loadCheckInterval: forgets refilled budgets, writes
// the pending refusal summary, and once heavy load has passed hands the
// runtime's idle heap back to the system. The Go scavenger alone keeps
// most of it: after a flood that had held ~150 MB of transactions,
// GOMEMLIMIT=128MiB brought RSS back only to ~130 MB a minute later, and
// without a limit ~950 MB stayed (docs/decisions.md).
func (s *Server) sweepLoad(now time.Time) {
	s.budgets.sweep(now)
	s.floodLog.flush(now)
	// Answered transactions end at once, leaving records in the
	// retransmission cache: a storm of accepted requests shows there.
	peak := s.livePeak.Swap(s.liveTx.Load()) + int64(s.retrans.records(now))
	refused := s.overBudget.Load() + s.overCap.Load()
	release, heavy := afterLoad(s.loadHeavy, peak, refused-s.loadRefused)
	s.loadHeavy, s.loadRefused = heavy, refused
	if !release {
		return
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	held := m.HeapSys - m.HeapReleased
	s.freeOSMemory()
	runtime.ReadMemStats(&m)
	s.log.Info("load has passed: idle heap returned to the system",
		"heap_held_before_mib", held>>20, "heap_held_after_mib", (m.HeapSys-m.HeapReleased)>>20)
}
