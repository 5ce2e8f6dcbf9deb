package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"deskgate/daemon/controlapi"
)

// phonesDaemon serves rows on PathPhones over a unix socket, like the
// daemon's control API, and returns the socket path.
func phonesDaemon(t *testing.T, rows []controlapi.Phone) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "dgctl") // short: unix socket paths are limited
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	sock := filepath.Join(dir, "c.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != controlapi.PathPhones {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rows)
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return sock
}

// Keys a phone's model has no room for are listed under the table and in
// the JSON's warnings field.
func TestPhonesShowsWarnings(t *testing.T) {
	rows := []controlapi.Phone{
		{MAC: "00:15:65:00:00:04", User: "tim", Vendor: "yealink", Model: "yealink-t31p", Configured: true,
			Warnings: []string{`away key "Away all" (away) does not fit: yealink-t31p has 2 line keys`}},
		{MAC: "00:15:65:00:00:01", User: "pat", Vendor: "yealink", Model: "yealink-t54w", Configured: true},
	}
	sock := phonesDaemon(t, rows)
	var out, errb bytes.Buffer
	if code := run([]string{"--socket", sock, "phones"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	want := `00:15:65:00:00:04: away key "Away all" (away) does not fit: yealink-t31p has 2 line keys` + "\n"
	if !strings.HasSuffix(out.String(), want) || strings.Count(out.String(), "does not fit") != 1 {
		t.Errorf("output:\n%s\nwant it to end with %q", out.String(), want)
	}
	out.Reset()
	if code := run([]string{"--socket", sock, "--json", "phones"}, &out, &errb); code != 0 {
		t.Fatalf("--json exit %d: %s", code, errb.String())
	}
	var got []map[string]any
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	if w, ok := got[0]["warnings"].([]any); !ok || len(w) != 1 {
		t.Errorf("json row 0 warnings = %v", got[0]["warnings"])
	}
	if _, ok := got[1]["warnings"]; ok {
		t.Errorf("json row 1 has warnings: %v", got[1])
	}
}
