package registrar

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"deskgate/daemon/store"
)

// nopStore persists nothing: the table's own memory is measured.
type nopStore struct{}

func (nopStore) AllBindings(time.Time) ([]store.Binding, error) { return nil, nil }
func (nopStore) QueueBinding(store.Binding) error               { return nil }
func (nopStore) QueueDeleteBinding(string, string) error        { return nil }
func (nopStore) QueueDeleteBindings(string) error               { return nil }
func (nopStore) PurgeExpired(time.Time) (int, error)            { return 0, nil }

// BenchmarkTableHeap10000 registers 10,000 phones (one contact each) the
// way the handler does — each REGISTER parsed by sipgo, turned into a
// binding by Parse, applied by Update, then refreshed once — and reports
// the heap the table holds: MB for 10,000 bindings and bytes per binding.
// The requests are dropped before measuring, so strings a binding shares
// with its request (substrings of header lines) count as the binding's.
func BenchmarkTableHeap10000(b *testing.B) {
	const n = 10000
	var perBinding float64
	for b.Loop() {
		tab := New(nopStore{})
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		for round := range 2 {
			for i := range n {
				req := parseReq(b, fmt.Sprintf(`
REGISTER sip:test.example SIP/2.0
Via: SIP/2.0/UDP 192.0.2.%[2]d:%[3]d;branch=z9hG4bK-%[1]d-%[4]d;rport
Max-Forwards: 70
From: <sip:%[1]d@test.example>;tag=%[1]d-tag
To: <sip:%[1]d@test.example>
Call-ID: %08[1]x-%04[4]x-reg@192.0.2.%[2]d
CSeq: %[4]d REGISTER
Contact: <sip:%[1]d@192.0.2.%[2]d:%[3]d;transport=udp>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-%012[1]x>";reg-id=1
User-Agent: Yealink SIP-T46U 108.86.0.20
Expires: 3600
Content-Length: 0

`, 100000+i, i%250+1, 10000+i%50000, round+1))
				user := fmt.Sprintf("user%05d", i)
				p, rerr := Parse(req, user, tab.Get(user, t0), 60, 3600, t0)
				if rerr != nil {
					b.Fatalf("refused: %+v", rerr)
				}
				if _, err := tab.Update(user, p.Changes, t0); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if got := tab.Count(t0); got != n {
			b.Fatalf("%d bindings, want %d", got, n)
		}
		perBinding = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		runtime.KeepAlive(tab)
	}
	b.ReportMetric(perBinding*10000/(1<<20), "MB/10k-bindings")
	b.ReportMetric(perBinding, "B/binding")
}
