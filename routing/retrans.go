package routing

import (
	"bytes"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// The retransmission cache lets an answered server transaction end at once
// (sipgo would keep it, with its parsed request and response, 5-10 KB, for
// Timer J after a non-INVITE final and Timer L after an INVITE's 2xx) while
// a retransmission of its request is still answered as the transaction
// would have answered it (RFC 3261 §17.2.2, RFC 6026 §7.1):
//
//   - a non-INVITE final over UDP leaves the response's bytes, resent to a
//     retransmitted request for waitTimer (Timer J);
//   - an INVITE answered 2xx leaves its key for Timer L: a retransmitted
//     INVITE is absorbed, never forked again (the 2xx retransmissions come
//     from downstream and are relayed by whoever relayed the 2xx);
//   - an INVITE answered non-2xx keeps its sipgo transaction until the ACK
//     (Timer G retransmits the final), then leaves its key for waitTimer
//     (Timer I): a retransmitted ACK or INVITE is absorbed.
//
// A record is keyed by the transaction key and the address the request
// came from, so no other host can fetch an answer; only admitted requests
// leave one (flood.go), and the tables are bounded in count and bytes.

// rtKey identifies a server transaction of a UDP request.
type rtKey struct {
	id  string         // top Via branch and sent-by, and the method (ACK: INVITE)
	src netip.AddrPort // where the request came from
}

// rtRecord is what a record keeps.
type rtRecord struct {
	res  []byte         // the final response as sent; nil: absorb silently
	to   netip.AddrPort // where it was sent
	conn sip.Connection // the socket it went through
	exp  time.Duration  // expiry, since the table's epoch
}

// rtSlot is a record's place in the expiry queue.
type rtSlot struct {
	key rtKey
	exp time.Duration
}

// rtOverhead is what a record costs besides its key's and response's bytes:
// its map entry (key and record, 128 B, with the map's spare room) and its
// expiry slot (56 B, with the ring's); TestRetransRecordMemory measured
// ~320 B.
const rtOverhead = 320

// retransTable holds records that all live ttl, oldest first: one map and
// a ring of expiry slots in insertion order, so expiry needs no timer or
// goroutine per record, only a look at the ring's head when the table is
// used. It holds at most maxCount records and maxBytes bytes (rtOverhead
// included); when full it refuses new ones (the caller keeps sipgo's
// transaction instead, the behaviour without the cache) or, with evict,
// drops the oldest, those least likely to see a retransmission.
type retransTable struct {
	ttl      time.Duration
	maxCount int
	maxBytes int
	evict    bool
	epoch    time.Time

	mu    sync.Mutex
	m     map[rtKey]rtRecord
	ring  []rtSlot
	head  int // oldest slot
	n     int // slots in use (a replaced record leaves a stale one)
	bytes int
	hits  uint64
	full  uint64
}

func newRetransTable(ttl time.Duration, maxCount, maxBytes int, epoch time.Time) *retransTable {
	return &retransTable{ttl: ttl, maxCount: maxCount, maxBytes: maxBytes, epoch: epoch,
		m: map[rtKey]rtRecord{}}
}

func recordSize(k rtKey, r rtRecord) int { return rtOverhead + len(k.id) + cap(r.res) }

// put adds rec under k for the table's ttl. It returns false, and keeps
// nothing, when the table is full.
func (t *retransTable) put(k rtKey, rec rtRecord, now time.Time) bool {
	at := now.Sub(t.epoch)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(at)
	size := recordSize(k, rec)
	old, replaced := t.m[k]
	if replaced {
		size -= recordSize(k, old)
	}
	for t.evict && t.n > 0 && (t.n >= t.maxCount || t.bytes+size > t.maxBytes) {
		t.full++
		t.dropOldestLocked()
	}
	if t.n >= t.maxCount || t.bytes+size > t.maxBytes {
		t.full++
		return false
	}
	rec.exp = at + t.ttl
	if t.n == len(t.ring) {
		t.grow()
	}
	t.ring[(t.head+t.n)%len(t.ring)] = rtSlot{key: k, exp: rec.exp}
	t.n++
	t.m[k] = rec
	t.bytes += size
	return true
}

// grow doubles the ring (up to maxCount), keeping the order.
func (t *retransTable) grow() {
	size := min(max(2*len(t.ring), 64), t.maxCount)
	ring := make([]rtSlot, size)
	for i := range t.n {
		ring[i] = t.ring[(t.head+i)%len(t.ring)]
	}
	t.ring, t.head = ring, 0
}

// get returns the live record under k.
func (t *retransTable) get(k rtKey, now time.Time) (rtRecord, bool) {
	at := now.Sub(t.epoch)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(at)
	rec, ok := t.m[k]
	if !ok || rec.exp <= at {
		return rtRecord{}, false
	}
	t.hits++
	return rec, true
}

// expireLocked drops the records whose time has come, oldest first. After
// a burst, once the table is empty, the ring and the map (Go maps never
// shrink) are given back.
func (t *retransTable) expireLocked(at time.Duration) {
	for t.n > 0 {
		if t.ring[t.head].exp > at {
			return
		}
		t.dropOldestLocked()
	}
	if len(t.ring) > 1024 {
		t.ring, t.head, t.m = nil, 0, map[rtKey]rtRecord{}
	}
}

// dropOldestLocked removes the ring's head and its record, unless a later
// put replaced that record.
func (t *retransTable) dropOldestLocked() {
	s := &t.ring[t.head]
	if rec, ok := t.m[s.key]; ok && rec.exp == s.exp {
		delete(t.m, s.key)
		t.bytes -= recordSize(s.key, rec)
	}
	*s = rtSlot{}
	t.head = (t.head + 1) % len(t.ring)
	t.n--
}

// remove forgets k's record (its slot expires unused).
func (t *retransTable) remove(k rtKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if rec, ok := t.m[k]; ok {
		delete(t.m, k)
		t.bytes -= recordSize(k, rec)
	}
}

// retransStats is a table's figures.
type retransStats struct {
	Records, Bytes int
	Hits, Full     uint64
}

func (t *retransTable) stats(now time.Time) retransStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(now.Sub(t.epoch))
	return retransStats{Records: len(t.m), Bytes: t.bytes, Hits: t.hits, Full: t.full}
}

// Bounds of the retransmission cache. 2000 REGISTER/s for the 5 s window
// is 10,000 records of ~0.75 KB (7.5 MB); 200 calls/s for Timer L is 6,400
// keys of ~0.37 KB. Beyond the bounds answered transactions stay in sipgo
// as without the cache (~5-10 KB each), where the transaction cap refuses
// new requests: memory stays bounded either way.
const (
	retransMaxFinals        = 32768
	retransMaxFinalsBytes   = 16 << 20
	retransMaxAccepted      = 32768
	retransMaxAcceptedBytes = 8 << 20
)

// retransCache is the server's two tables.
type retransCache struct {
	finals   *retransTable // non-INVITE finals to resend; ACKed INVITE non-2xx to absorb
	accepted *retransTable // INVITEs answered 2xx: absorb their retransmissions
}

func newRetransCache(now time.Time) *retransCache {
	c := &retransCache{
		finals:   newRetransTable(waitTimer, retransMaxFinals, retransMaxFinalsBytes, now),
		accepted: newRetransTable(acceptedTimer, retransMaxAccepted, retransMaxAcceptedBytes, now),
	}
	// sipgo's own Timer L is 0 (timers.go): nothing else absorbs a
	// retransmitted INVITE, so the newest keys win.
	c.accepted.evict = true
	return c
}

// records is how many records the cache holds.
func (c *retransCache) records(now time.Time) int {
	return c.finals.stats(now).Records + c.accepted.stats(now).Records
}

// txKey is req's server transaction key (RFC 3261 §17.2.3: the top Via's
// branch and sent-by, and the method, ACK matching INVITE; method overrides
// the request's own) with the address the request came from. ok is false
// for what gets no record: a request over a reliable transport (the client
// does not retransmit), without an RFC 3261 branch (RFC 2543 matching is
// left to sipgo), or from an unparsable source. The id is a fresh string:
// it must not keep the request's buffer alive.
func txKey(req *sip.Request, method sip.RequestMethod) (rtKey, bool) {
	if sip.IsReliable(req.Transport()) {
		return rtKey{}, false
	}
	via := req.Via()
	if via == nil {
		return rtKey{}, false
	}
	branch, _ := via.Params.Get("branch")
	if len(branch) <= len(sip.RFC3261BranchMagicCookie) || branch[:len(sip.RFC3261BranchMagicCookie)] != sip.RFC3261BranchMagicCookie {
		return rtKey{}, false
	}
	src, err := netip.ParseAddrPort(req.Source())
	if err != nil {
		return rtKey{}, false
	}
	if method == "" {
		cseq := req.CSeq()
		if cseq == nil {
			return rtKey{}, false
		}
		method = cseq.MethodName
	}
	if method == sip.ACK {
		method = sip.INVITE
	}
	b := make([]byte, 0, len(branch)+len(via.Host)+len(method)+10)
	b = append(b, branch...)
	b = append(b, 0)
	b = append(b, via.Host...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(via.Port), 10)
	b = append(b, 0)
	b = append(b, method...)
	return rtKey{id: string(b), src: netip.AddrPortFrom(src.Addr().Unmap(), src.Port())}, true
}

// rawWriter is a datagram socket (sipgo's UDP connection): a recorded
// response goes out as the bytes it was.
type rawWriter interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
}

var serializeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serializeResponse is res as it goes on the wire, in a slice of its own.
func serializeResponse(res *sip.Response) []byte {
	buf := serializeBufs.Get().(*bytes.Buffer)
	buf.Reset()
	res.StringWrite(buf)
	b := bytes.Clone(buf.Bytes())
	serializeBufs.Put(buf)
	return b
}

// sendRecorded writes a recorded response: its bytes to its address through
// a datagram socket, or, on another connection (tests), parsed again.
func sendRecorded(conn sip.Connection, b []byte, to netip.AddrPort) error {
	if w, ok := conn.(rawWriter); ok {
		_, err := w.WriteTo(b, net.UDPAddrFromAddrPort(to))
		return err
	}
	msg, err := sip.ParseMessage(b)
	if err != nil {
		return err
	}
	msg.SetDestination(to.String())
	return conn.WriteMsg(msg)
}

// retransmission answers req from the cache when it retransmits a request
// whose transaction has ended: the recorded final is resent, a
// retransmitted INVITE or ACK is absorbed, and a late CANCEL of an answered
// INVITE gets the 200 sipgo would have given it. stx ends at once and the
// handlers never see req. It reports whether req was handled so.
func (s *Server) retransmission(req *sip.Request, stx sip.ServerTransaction) bool {
	if s.retrans == nil {
		return false
	}
	k, ok := txKey(req, "")
	if !ok {
		return false
	}
	now := s.now()
	switch req.Method {
	case sip.INVITE, sip.ACK:
		_, hit := s.retrans.finals.get(k, now) // INVITE answered non-2xx, ACKed
		if !hit && req.Method == sip.INVITE {
			_, hit = s.retrans.accepted.get(k, now)
		}
		if !hit {
			return false
		}
	case sip.CANCEL:
		k.id = k.id[:len(k.id)-len(sip.CANCEL)] + string(sip.INVITE)
		_, hit := s.retrans.accepted.get(k, now)
		if !hit {
			_, hit = s.retrans.finals.get(k, now)
		}
		if !hit {
			return false
		}
		// The INVITE's transaction would have answered 200 and ignored the
		// CANCEL: the final went already (RFC 3261 §9.2).
		if c, ok := stx.(interface{ Connection() sip.Connection }); ok && c.Connection() != nil {
			if err := c.Connection().WriteMsg(sip.NewResponseFromRequest(req, 200, "OK", nil)); err != nil {
				s.log.Debug("send response", "status", 200, "call_id", callID(req), "error", err)
			}
		} else {
			s.send(stx, sip.NewResponseFromRequest(req, 200, "OK", nil))
		}
	default:
		rec, hit := s.retrans.finals.get(k, now)
		if !hit {
			return false
		}
		if rec.res == nil {
			break
		}
		if err := sendRecorded(rec.conn, rec.res, rec.to); err != nil {
			s.log.Debug("resend response", "method", string(req.Method), "call_id", callID(req), "error", err)
		}
	}
	stx.Terminate()
	return true
}
