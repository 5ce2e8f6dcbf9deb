package main

import (
	"os"
	"runtime/debug"
	"testing"
)

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
