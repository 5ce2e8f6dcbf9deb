package store

import (
	"fmt"
	"testing"
	"time"
)

// Every write is one fsynced bbolt transaction: these numbers are the cost
// of durability on the disk the benchmark runs on (measure on the target).

func BenchmarkPutBinding(b *testing.B) {
	db := openTest(b, Options{})
	contacts := 50 // a refresh rewrites an existing binding
	for i := 0; b.Loop(); i++ {
		bd := binding(fmt.Sprintf("user%d", i%contacts), "sip:u@192.0.2.10:5060", time.Hour)
		bd.CSeq = uint32(i)
		if err := db.PutBinding(bd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendHistory(b *testing.B) {
	// At the bound, so each append also drops the oldest entry.
	db := openTest(b, Options{})
	appendCalls(b, db, "alice", 1, defaultHistoryLimit)
	for i := 0; b.Loop(); i++ {
		if err := db.AppendHistory("alice", call(i)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBindings(b *testing.B) {
	db := openTest(b, Options{})
	for u := range 200 {
		for c := range 3 {
			if err := db.PutBinding(binding(fmt.Sprintf("user%d", u), fmt.Sprintf("sip:%d@192.0.2.%d", c, u), time.Hour)); err != nil {
				b.Fatal(err)
			}
		}
	}
	for i := 0; b.Loop(); i++ {
		if _, err := db.Bindings(fmt.Sprintf("user%d", i%200), at(0)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCredentialKnown(b *testing.B) {
	// The REGISTER hot path: read-only once the user has a credential.
	db := openTest(b, Options{})
	if _, err := db.Credential("alice", "101"); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := db.Credential("alice", "101"); err != nil {
			b.Fatal(err)
		}
	}
}
