package store

import (
	"fmt"
	bolt "go.etcd.io/bbolt"
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Queued writes are invisible to nobody: reads flush first, Close flushes,
// and a reopened database has them.
func TestWriteBehind(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	db, err := Open(path, Options{FlushEvery: time.Hour}) // only reads and Close flush
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	b := Binding{User: "alice", Contact: "sip:1001@192.0.2.1:5060", Expires: now.Add(time.Hour)}
	if err := db.QueueBinding(b); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueBinding(Binding{User: "alice", Contact: "sip:1001@192.0.2.2:5060", Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueDeleteBinding("alice", "sip:1001@192.0.2.2:5060"); err != nil {
		t.Fatal(err)
	}
	got, err := db.Bindings("alice", now)
	if err != nil || len(got) != 1 || got[0].Contact != b.Contact {
		t.Fatalf("Bindings after queued put, put, delete = %v, %v; want the first only", got, err)
	}
	for i := range 3 {
		e := HistoryEntry{Time: now.Add(time.Duration(i) * time.Second), Direction: "in", Peer: "1002", Result: ResultAnswered}
		if err := db.QueueHistory("alice", e); err != nil {
			t.Fatal(err)
		}
	}
	if h, err := db.History("alice", 10); err != nil || len(h) != 3 {
		t.Fatalf("History = %d entries, %v; want 3", len(h), err)
	}
	if err := db.QueueDeleteBindings("alice"); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueBinding(Binding{User: "bob", Contact: "sip:1002@192.0.2.3:5060", Expires: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.QueueBinding(b); err == nil {
		t.Error("a write queued after Close was accepted")
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	all, err := db.AllBindings(now)
	if err != nil || len(all) != 1 || all[0].User != "bob" {
		t.Fatalf("after reopen: %v, %v; want bob's binding only (Close flushed the queue)", all, err)
	}
}

// The loop commits on its own within the flush interval.
func TestWriteBehindFlushesByItself(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{FlushEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueueBinding(Binding{User: "alice", Contact: "sip:1001@192.0.2.1:5060", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		db.behind.mu.Lock()
		n := len(db.behind.ops)
		db.behind.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("queued write not committed within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Invalid writes are refused when queued, not lost at commit time.
func TestQueueValidates(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueueBinding(Binding{User: "alice"}); err == nil {
		t.Error("binding without contact accepted")
	}
	if err := db.QueueHistory("alice", HistoryEntry{}); err == nil {
		t.Error("empty history entry accepted")
	}
}

// BenchmarkQueueBinding is what a REGISTER pays to queue its binding. The
// queue is committed outside the timer every flushAt writes: queueing
// outruns the disk, and past maxQueued writes are refused.
func BenchmarkQueueBinding(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "state.db"), Options{FlushEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	exp := time.Now().Add(time.Hour)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := db.QueueBinding(Binding{User: "u" + string(rune('a'+i%26)), Contact: "sip:x@192.0.2.1:5060", Expires: exp}); err != nil {
			b.Fatal(err)
		}
		if i%flushAt == flushAt-1 {
			b.StopTimer()
			if err := db.Flush(); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	}
}

// BenchmarkWriteBehindFlush is the write-behind's work for a REGISTER
// storm: 1000 phones refresh their binding, and the queue is committed in
// one transaction (one fsync; the per-binding figures are what the
// encoding and the queue cost on top).
func BenchmarkWriteBehindFlush(b *testing.B) {
	db, err := Open(filepath.Join(b.TempDir(), "state.db"), Options{FlushEvery: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const n = 1000
	bs := make([]Binding, n)
	for i := range bs {
		bs[i] = Binding{User: fmt.Sprintf("user%04d", i), Contact: fmt.Sprintf("sip:%d@192.0.2.%d:5062", 1000+i, i%250+1),
			Source: fmt.Sprintf("192.0.2.%d:5062", i%250+1), Transport: "UDP", CallID: fmt.Sprintf("reg-%d@192.0.2.10", i),
			UserAgent: "Yealink SIP-T46U 108.86.0.20", Expires: at(time.Hour), Updated: at(0)}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range bs {
			bs[i].CSeq++
			if err := db.QueueBinding(bs[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.Flush(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/binding")
}

// BenchmarkWriteBehindStorm is the write-behind during the REGISTER storm
// the harness runs: 2000 phones hold a binding each and refresh them in
// random order, the queue committed every batch writes. cpu-ns/binding is
// the process's CPU time (user and system, GC included) per binding, what
// the storm's CPU per registration pays for the store; the fsync's wait
// is not in it.
func BenchmarkWriteBehindStorm(b *testing.B) {
	// 400: 2000/s flushed every 200 ms; 1000: every 500 ms, about as often
	// as flushAt queued writes force it (flushAt itself would race the
	// flush it kicks).
	for _, batch := range []int{400, 1000} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "state.db"), Options{FlushEvery: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			const n = 2000
			bs := make([]Binding, n)
			for i := range bs {
				bs[i] = Binding{User: fmt.Sprintf("u%d", 100000+i), Contact: fmt.Sprintf("sip:%d@127.0.0.1:%d", 100000+i, 6000+i),
					Source: fmt.Sprintf("127.0.0.1:%d", 6000+i), Transport: "UDP", CallID: fmt.Sprintf("%d-%d@127.0.0.1", i+1, 4242),
					UserAgent: "sipp", Expires: at(time.Hour), Updated: at(0)}
				if err := db.QueueBinding(bs[i]); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Flush(); err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(1, 2))
			cpu0 := cpuTime(b)
			b.ReportAllocs()
			for b.Loop() {
				for range batch {
					bd := &bs[rng.IntN(n)]
					bd.CSeq++
					if err := db.QueueBinding(*bd); err != nil {
						b.Fatal(err)
					}
				}
				if err := db.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N*batch), "cpu-ns/binding")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestWriteBehindPacksBindingPages: the flush fills the bindings' pages to
// bindingsFill rather than bbolt's half (a storm's flush rewrites nearly
// every page, so half-full pages doubled its writes), and refreshing every
// binding keeps them packed.
func TestWriteBehindPacksBindingPages(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "state.db"), Options{FlushEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fill := func() float64 {
		t.Helper()
		var st bolt.BucketStats
		if err := db.bolt.View(func(tx *bolt.Tx) error {
			st = tx.Bucket([]byte(bucketBindings)).Stats()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if st.LeafAlloc == 0 {
			t.Fatal("no leaf pages")
		}
		return float64(st.LeafInuse) / float64(st.LeafAlloc)
	}
	const n = 2000
	for round := range 2 {
		for i := range n {
			bd := Binding{User: fmt.Sprintf("u%d", 100000+i), Contact: fmt.Sprintf("sip:%d@127.0.0.1:%d", 100000+i, 6000+i),
				Source: fmt.Sprintf("127.0.0.1:%d", 6000+i), Transport: "UDP", CallID: fmt.Sprintf("%d@127.0.0.1", i),
				CSeq: uint32(round + 1), Expires: at(time.Hour), Updated: at(0)}
			if err := db.QueueBinding(bd); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.Flush(); err != nil {
			t.Fatal(err)
		}
		if f := fill(); f < bindingsFill-0.1 {
			t.Errorf("round %d: bindings' leaf pages %.0f %% full, want about %.0f %%", round, 100*f, 100*bindingsFill)
		}
	}
}
