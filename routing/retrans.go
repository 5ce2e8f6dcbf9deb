package routing

import (
	"bytes"
	"encoding/binary"
	"hash/maphash"
	"math"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"deskgate/routing/registrar"
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

// rtKey identifies a server transaction of a UDP request together with
// the address it came from: a 128-bit hash, under two per-process random
// seeds, of the transaction's id (top Via branch and sent-by, and the
// method, ACK counting as INVITE) and the source. A fixed-size key keeps
// the table free of pointers (the collector never scans it) and needs no
// string per request; without the seeds no one can aim at a collision.
type rtKey [2]uint64

var rtSeeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}

// rtKeyOf is the key of b: a transaction id followed by its source
// (rtAppendSource).
func rtKeyOf(b []byte) rtKey {
	return rtKey{maphash.Bytes(rtSeeds[0], b), maphash.Bytes(rtSeeds[1], b)}
}

// rtAppendSource appends src (IPv4-mapped addresses as IPv4, zone left
// out: the socket's address has none) to a transaction id.
func rtAppendSource(b []byte, src netip.AddrPort) []byte {
	a := src.Addr().Unmap().As16()
	b = append(b, 0)
	b = append(b, a[:]...)
	return binary.BigEndian.AppendUint16(b, src.Port())
}

// rtRecord is what a record keeps, as put takes it and get gives it.
type rtRecord struct {
	res  []byte         // the final response as sent; nil: absorb silently
	to   netip.AddrPort // where it was sent
	conn sip.Connection // the socket it went through
	// rebuild: res is not the response but a REGISTER's binding key; the
	// 200 is built again from the bindings as they are (a tenth of the
	// bytes of a storm's records).
	rebuild bool
}

// rtSlot is a record in the table's ring, pointer-free: its response's
// bytes are in a chunk, its socket in the table's short list.
type rtSlot struct {
	key   rtKey
	exp   time.Duration // expiry, since the table's epoch
	addr  [16]byte      // to, IPv4 as IPv4-mapped
	chunk uint32        // sequence number of the chunk holding the response
	off   uint32        // the response's offset in its chunk
	size  uint16        // the response's length; 0: none
	port  uint16        // to's port
	conn  uint8         // conns index + 1; 0: none
	to    uint8         // 0: no address, 4 or 6
	redo  bool          // rtRecord.rebuild
}

// rtOverhead is what a record costs besides its response's bytes: its ring
// slot (56 B) and map entry (24 B), both with their spare room, and its
// share of the chunks' slack; TestRetransRecordMemory measured ~145 B.
const rtOverhead = 160

// rtChunkSize is the size of the chunks responses are copied into: a few
// dozen responses each, so a chunk's share of the collector's work is
// nothing, and one is given back once its last record has expired.
const rtChunkSize = 32 << 10

// rtMaxConns bounds the sockets a table refers to (a server has one a UDP
// listener).
const rtMaxConns = 255

// retransTable holds records that all live ttl, oldest first: a ring of
// slots in insertion order and a map from key to slot, so expiry needs no
// timer or goroutine per record, only a look at the ring's head when the
// table is used. Responses are copied into chunks filled in the same
// order, so they expire a chunk at a time. It holds at most maxCount
// records and maxBytes bytes (rtOverhead included; a replaced or removed
// record's slot counts until it expires); when full it refuses new ones
// (the caller keeps sipgo's transaction instead, the behaviour without the
// cache) or, with evict, drops the oldest, those least likely to see a
// retransmission.
type retransTable struct {
	ttl      time.Duration
	maxCount int
	maxBytes int
	evict    bool
	epoch    time.Time

	mu     sync.Mutex
	m      map[rtKey]uint64 // a record's slot, as a sequence number
	ring   []rtSlot
	head   int    // oldest slot
	seq    uint64 // the oldest slot's sequence number
	n      int    // slots in use (a replaced or removed record leaves a stale one)
	chunks [][]byte
	chunk0 uint32 // chunks[0]'s sequence number
	fill   int    // bytes used in the last chunk
	conns  []sip.Connection
	bytes  int
	hits   uint64
	full   uint64
}

func newRetransTable(ttl time.Duration, maxCount, maxBytes int, epoch time.Time) *retransTable {
	return &retransTable{ttl: ttl, maxCount: maxCount, maxBytes: maxBytes, epoch: epoch,
		m: map[rtKey]uint64{}}
}

// put adds rec under k for the table's ttl, replacing any record there. It
// returns false, and keeps nothing, when the table is full, or rec cannot
// be kept (a response over 64 KB, an address with a zone).
func (t *retransTable) put(k rtKey, rec rtRecord, now time.Time) bool {
	at := now.Sub(t.epoch)
	if len(rec.res) > math.MaxUint16 || (rec.res != nil && rec.to.Addr().Zone() != "") {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.expireLocked(at)
	size := rtOverhead + len(rec.res)
	for t.evict && t.n > 0 && (t.n >= t.maxCount || t.bytes+size > t.maxBytes) {
		t.full++
		t.dropOldestLocked()
	}
	if t.n >= t.maxCount || t.bytes+size > t.maxBytes {
		t.full++
		return false
	}
	s := rtSlot{key: k, exp: at + t.ttl}
	if rec.res != nil {
		conn, ok := t.connLocked(rec.conn)
		if !ok {
			t.full++
			return false
		}
		s.conn = conn
		if a := rec.to.Addr(); a.IsValid() {
			s.addr, s.port, s.to = a.As16(), rec.to.Port(), 6
			if a.Is4() {
				s.to = 4
			}
		}
	}
	s.chunk, s.off = t.storeLocked(rec.res)
	s.size = uint16(len(rec.res))
	s.redo = rec.rebuild
	if t.n == len(t.ring) {
		t.grow()
	}
	t.ring[(t.head+t.n)%len(t.ring)] = s
	t.m[k] = t.seq + uint64(t.n)
	t.n++
	t.bytes += size
	return true
}

// connLocked is c's index + 1 in the table's list of sockets (0 for nil).
func (t *retransTable) connLocked(c sip.Connection) (uint8, bool) {
	if c == nil {
		return 0, true
	}
	for i, have := range t.conns {
		if have == c {
			return uint8(i + 1), true
		}
	}
	if len(t.conns) == rtMaxConns {
		return 0, false
	}
	t.conns = append(t.conns, c)
	return uint8(len(t.conns)), true
}

// storeLocked copies b into the last chunk, or a new one when it does not
// fit, and says where it went. Chunks are never written twice, so what get
// hands out stays as it was after the lock is released.
func (t *retransTable) storeLocked(b []byte) (chunk, off uint32) {
	if len(b) == 0 {
		// No bytes, but a place in the order: the last chunk (or the next).
		return t.chunk0 + uint32(max(len(t.chunks), 1)) - 1, 0
	}
	if len(t.chunks) == 0 || t.fill+len(b) > len(t.chunks[len(t.chunks)-1]) {
		t.chunks = append(t.chunks, make([]byte, max(rtChunkSize, len(b))))
		t.fill = 0
	}
	last := t.chunks[len(t.chunks)-1]
	copy(last[t.fill:], b)
	off = uint32(t.fill)
	t.fill += len(b)
	return t.chunk0 + uint32(len(t.chunks)) - 1, off
}

// grow makes the ring half as large again (up to maxCount; doubling
// would leave more unused after a burst), keeping the order.
func (t *retransTable) grow() {
	size := min(max(len(t.ring)+len(t.ring)/2, 64), t.maxCount)
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
	seq, ok := t.m[k]
	if !ok {
		return rtRecord{}, false
	}
	s := &t.ring[(t.head+int(seq-t.seq))%len(t.ring)]
	if s.exp <= at {
		return rtRecord{}, false
	}
	t.hits++
	rec := rtRecord{rebuild: s.redo}
	if s.size > 0 {
		c := t.chunks[s.chunk-t.chunk0]
		rec.res = c[s.off : s.off+uint32(s.size) : s.off+uint32(s.size)]
	}
	if s.conn > 0 {
		rec.conn = t.conns[s.conn-1]
	}
	switch s.to {
	case 4:
		rec.to = netip.AddrPortFrom(netip.AddrFrom16(s.addr).Unmap(), s.port)
	case 6:
		rec.to = netip.AddrPortFrom(netip.AddrFrom16(s.addr), s.port)
	}
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
		t.ring, t.head, t.m = nil, 0, map[rtKey]uint64{}
	}
}

// dropOldestLocked removes the ring's head and its record, unless a later
// put replaced that record or it was removed, and the chunks no slot uses
// any more. An empty table keeps no chunk and no socket.
func (t *retransTable) dropOldestLocked() {
	s := &t.ring[t.head]
	if seq, ok := t.m[s.key]; ok && seq == t.seq {
		delete(t.m, s.key)
	}
	t.bytes -= rtOverhead + int(s.size)
	*s = rtSlot{}
	t.head = (t.head + 1) % len(t.ring)
	t.seq++
	t.n--
	if t.n == 0 {
		t.chunk0 += uint32(len(t.chunks))
		clear(t.chunks)
		t.chunks, t.fill = t.chunks[:0], 0
		clear(t.conns)
		t.conns = t.conns[:0]
		return
	}
	for oldest := t.ring[t.head].chunk; t.chunk0 < oldest; t.chunk0++ {
		t.chunks[0] = nil
		t.chunks = t.chunks[1:]
	}
}

// remove forgets k's record (its slot expires unused).
func (t *retransTable) remove(k rtKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, k)
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
// left to sipgo), or from an unparsable source. The id is hashed from a
// buffer on the stack: nothing of the request is kept or allocated.
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
	var buf [256]byte // a longer id (a hostile branch) goes to the heap
	b := append(buf[:0], branch...)
	b = append(b, 0)
	b = append(b, via.Host...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(via.Port), 10)
	b = append(b, 0)
	b = append(b, method...)
	return rtKeyOf(rtAppendSource(b, src)), true
}

// rawWriter is a datagram socket (sipgo's UDP connection): a recorded
// response goes out as the bytes it was.
type rawWriter interface {
	WriteTo(b []byte, addr net.Addr) (int, error)
}

var serializeBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// serialize is msg as it goes on the wire, in a pooled buffer to
// give back with releaseSerialized once sent (a record keeps a copy).
func serialize(msg sip.Message) *bytes.Buffer {
	buf := serializeBufs.Get().(*bytes.Buffer)
	buf.Reset()
	msg.StringWrite(buf)
	return buf
}

func releaseSerialized(buf *bytes.Buffer) {
	if buf.Cap() <= 64<<10 {
		serializeBufs.Put(buf)
	}
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
		k, _ = txKey(req, sip.INVITE)
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
		if rec.rebuild {
			s.reanswerRegister(req, rec)
			break
		}
		if err := sendRecorded(rec.conn, rec.res, rec.to); err != nil {
			s.log.Debug("resend response", "method", string(req.Method), "call_id", callID(req), "error", err)
		}
	}
	stx.Terminate()
	return true
}

// reanswerRegister answers a retransmitted REGISTER whose 200 was recorded
// by its binding key (guardTx.respondRebuilt): the 200 is built again, with
// the same To tag, from the bindings as they are now, and goes where the
// first went.
func (s *Server) reanswerRegister(req *sip.Request, rec rtRecord) {
	now := s.now()
	res := registrar.OK(req, s.bindings.Get(string(rec.res), now), now)
	buf := serialize(res)
	defer releaseSerialized(buf)
	if err := sendRecorded(rec.conn, buf.Bytes(), rec.to); err != nil {
		s.log.Debug("resend response", "method", string(req.Method), "call_id", callID(req), "error", err)
	}
}
