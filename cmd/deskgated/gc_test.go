package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestTuneProfiling(t *testing.T) {
	defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
	for _, tc := range []struct {
		godebug string
		want    int
	}{
		{"", 0},
		{"madvdontneed=1", 0},
		{"memprofilerate=4096", 4096}, // the operator's setting stays
	} {
		runtime.MemProfileRate = 4096 // what GODEBUG=memprofilerate=4096 gives at start
		t.Setenv("GODEBUG", tc.godebug)
		tuneProfiling()
		if runtime.MemProfileRate != tc.want {
			t.Errorf("GODEBUG=%q: MemProfileRate %d, want %d", tc.godebug, runtime.MemProfileRate, tc.want)
		}
	}
}

func TestTuneGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tc := range []struct {
		env  string // "" = GOGC unset
		set  bool
		want int
	}{
		{want: gcPercent},
		{env: "200", set: true, want: 100}, // GOGC set: the runtime's own value (100 here) stays
	} {
		debug.SetGCPercent(100)
		t.Setenv("GOGC", tc.env) // restored after the test
		if !tc.set {
			os.Unsetenv("GOGC")
		}
		tuneGC()
		if got := debug.SetGCPercent(100); got != tc.want {
			t.Errorf("GOGC=%q: collector at %d%%, want %d%%", tc.env, got, tc.want)
		}
	}
}
