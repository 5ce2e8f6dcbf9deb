package controlapi

import (
	"context"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func serveUnix(t *testing.T, h http.Handler) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "c.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return path
}

func TestClient(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"ready":true,"directory":{"version":"v1","source":"file","error":""},"registrations":3}`))
	})
	mux.HandleFunc("POST /v1/dnd/{user}", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"unknown user \"` + r.PathValue("user") + `\""}`))
	})
	mux.HandleFunc("GET /v1/calls", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusBadGateway)
	})
	c := NewClient(serveUnix(t, mux))
	ctx := context.Background()

	var s Status
	if err := c.Get(ctx, PathStatus, &s); err != nil || !s.Ready || s.Directory.Version != "v1" || s.Registrations != 3 {
		t.Errorf("status: %+v %v", s, err)
	}
	err := c.Post(ctx, UserPath(PathDND, "a b"), PresenceChange{On: true}, nil)
	if err == nil || err.Error() != `unknown user "a b"` {
		t.Errorf("daemon error not passed through: %v", err)
	}
	if err := c.Get(ctx, PathCalls, nil); err == nil || !strings.Contains(err.Error(), "502") {
		t.Errorf("non-JSON error: %v", err)
	}
	nc := NewClient(filepath.Join(t.TempDir(), "none.sock"))
	if err := nc.Get(ctx, PathStatus, &s); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no daemon: %v", err)
	}
}
