package daemon

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
)

func TestControlServesPprof(t *testing.T) {
	m := (&Daemon{}).controlMux()
	get := func(method, target string) (int, []byte) {
		t.Helper()
		rec := httptest.NewRecorder()
		m.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
		b, _ := io.ReadAll(rec.Result().Body)
		return rec.Code, b
	}
	if code, body := get(http.MethodGet, "/debug/pprof/"); code != 200 || !bytes.Contains(body, []byte("goroutine")) {
		t.Fatalf("index: %d %.200s", code, body)
	}
	// A heap profile is gzip-compressed protobuf.
	if code, body := get(http.MethodGet, "/debug/pprof/heap"); code != 200 || !bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
		t.Fatalf("heap: %d %.40q", code, body)
	}
	if code, body := get(http.MethodGet, "/debug/pprof/goroutine?debug=1"); code != 200 || !bytes.Contains(body, []byte("TestControlServesPprof")) {
		t.Fatalf("goroutine: %d %.200s", code, body)
	}

	defaultHeap := runtime.MemProfileRate
	t.Cleanup(func() {
		runtime.SetBlockProfileRate(0)
		runtime.SetMutexProfileFraction(0)
		blockRate.Store(0)
		runtime.MemProfileRate = defaultHeap
	})
	for _, tc := range []struct {
		query string
		code  int
		want  string
	}{
		{"block=10000&mutex=5", 200, "block=10000 mutex=5"},
		{"mutex=0", 200, "block=10000 mutex=0"},
		{"block=0", 200, "block=0 mutex=0"},
		{"heap=0", 200, "heap=0 block=0"},
		{"heap=524288", 200, "heap=524288 block=0"},
		{"block=-1", 400, "non-negative"},
		{"mutex=x", 400, "non-negative"},
		{"heap=-2", 400, "non-negative"},
	} {
		code, body := get(http.MethodPost, "/debug/pprof/sampling?"+tc.query)
		if code != tc.code || !strings.Contains(string(body), tc.want) {
			t.Errorf("sampling?%s: %d %q, want %d %q", tc.query, code, body, tc.code, tc.want)
		}
	}
	if runtime.MemProfileRate != 524288 {
		t.Errorf("heap sampling after heap=524288: %d", runtime.MemProfileRate)
	}
	if got := runtime.SetMutexProfileFraction(-1); got != 0 {
		t.Errorf("mutex fraction after reset = %d", got)
	}
}
