package store

import (
	"bytes"
	"testing"
	"time"
)

func TestLastGood(t *testing.T) {
	db := openTest(t, Options{})
	if _, ok, err := db.LastGood(); ok || err != nil {
		t.Fatalf("LastGood on a new db = %v, %v", ok, err)
	}
	tests := []struct {
		name string
		put  LastGood
	}{
		{name: "from file", put: LastGood{Raw: []byte("version: \"1\"\nusers: []\n"), Origin: "file", Version: "1", Saved: at(0)}},
		{name: "replaced from api", put: LastGood{Raw: []byte(`{"version":"2","users":[]}`), Origin: "api", Version: "2", Saved: at(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db = reopen(t, db, Options{}) // the previous case's handle closed with it
			if err := db.PutLastGood(tt.put); err != nil {
				t.Fatal(err)
			}
			db = reopen(t, db, Options{})
			got, ok, err := db.LastGood()
			if err != nil || !ok {
				t.Fatalf("LastGood = %v, %v", ok, err)
			}
			if !bytes.Equal(got.Raw, tt.put.Raw) || got.Origin != tt.put.Origin || got.Version != tt.put.Version ||
				!got.Saved.Equal(tt.put.Saved) {
				t.Errorf("LastGood = %+v, want %+v", got, tt.put)
			}
			got.Raw[0] = '#' // the caller owns its copy
			again, _, _ := db.LastGood()
			if !bytes.Equal(again.Raw, tt.put.Raw) {
				t.Error("changing the returned Raw changed the stored document")
			}
		})
	}
}

func TestLastGoodDefaultsAndErrors(t *testing.T) {
	db := openTest(t, Options{})
	if err := db.PutLastGood(LastGood{Origin: "file"}); err == nil {
		t.Error("PutLastGood with an empty document: no error")
	}
	before := time.Now().Add(-time.Second)
	if err := db.PutLastGood(LastGood{Raw: []byte("users: []\n"), Origin: "file"}); err != nil {
		t.Fatal(err)
	}
	got, _, err := db.LastGood()
	if err != nil {
		t.Fatal(err)
	}
	if got.Saved.Before(before) {
		t.Errorf("zero Saved stored as %v", got.Saved)
	}
}
