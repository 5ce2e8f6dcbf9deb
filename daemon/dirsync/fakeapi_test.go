package dirsync

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fakeAPI plays the upstream directory API: it serves the published body
// with an ETag, answers 304 to a matching If-None-Match, checks the bearer
// token, and can be switched to an error status, a stalled or an oversize
// response.
type fakeAPI struct {
	srv  *httptest.Server
	hold chan struct{} // closed at cleanup: releases stalled handlers

	mu       sync.Mutex
	token    string
	body     []byte
	etag     string
	status   int  // answer this instead when not 0
	stall    bool // wait for the client to give up
	chunked  bool // stream the body without Content-Length
	requests []http.Header
	answers  []int
}

func newFakeAPI(t *testing.T, token string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{token: token, hold: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		close(f.hold)
		f.srv.Close()
	})
	return f
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Header.Clone())
	status, body, etag, stall, chunked := f.status, f.body, f.etag, f.stall, f.chunked
	switch {
	case r.Method != http.MethodGet:
		status = http.StatusMethodNotAllowed
	case r.Header.Get("Authorization") != "Bearer "+f.token:
		status = http.StatusUnauthorized
	case status == 0 && etag != "" && r.Header.Get("If-None-Match") == etag:
		status = http.StatusNotModified
	case status == 0:
		status = http.StatusOK
	}
	f.answers = append(f.answers, status)
	f.mu.Unlock()

	if stall {
		select {
		case <-r.Context().Done():
		case <-f.hold:
		}
		return
	}
	switch status {
	case http.StatusOK:
	case http.StatusNotModified:
		w.Header().Set("ETag", etag)
		w.WriteHeader(status)
		return
	default:
		http.Error(w, "upstream says\tno\n", status)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/json")
	if chunked {
		w.WriteHeader(status)
		for i := 0; i < len(body); i += 16 {
			_, _ = w.Write(body[i:min(i+16, len(body))])
			w.(http.Flusher).Flush()
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

// publish serves body from now on, under an ETag derived from it.
func (f *fakeAPI) publish(body string) {
	sum := sha256.Sum256([]byte(body))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.body = []byte(body)
	f.etag = `"` + hex.EncodeToString(sum[:8]) + `"`
	f.status = 0
}

func (f *fakeAPI) set(fn func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeAPI) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.requests)
}

// since returns the request headers and answer statuses from index i on.
func (f *fakeAPI) since(i int) ([]http.Header, []int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.requests[i:]...), append([]int(nil), f.answers[i:]...)
}

// waitRequests waits until the server has seen n more requests than at from.
func (f *fakeAPI) waitRequests(t *testing.T, from, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%d more requests", n), func() bool { return f.count() >= from+n })
}

// writeToken writes a token file with the given mode and returns its path.
func writeToken(t *testing.T, dir, token string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, "token")
	if err := os.WriteFile(p, []byte(token), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// fastAPIOptions are test timings: everything in milliseconds.
func fastAPIOptions(url, tokenFile string) APIOptions {
	return APIOptions{
		URL:          url,
		TokenFile:    tokenFile,
		PollInterval: 20 * time.Millisecond,
		Timeout:      2 * time.Second,
		MinBackoff:   5 * time.Millisecond,
		MaxBackoff:   40 * time.Millisecond,
	}
}

func newTestAPISource(t *testing.T, opts APIOptions) *APISource {
	t.Helper()
	src, err := NewAPISource(opts)
	if err != nil {
		t.Fatalf("NewAPISource: %v", err)
	}
	return src
}
