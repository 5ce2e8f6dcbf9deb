package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// demoOffice returns the demo office with its version set to v.
func demoOffice(t *testing.T, v string) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../testdata/demo/office.yaml")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?m)^version:.*$`)
	if !re.Match(raw) {
		t.Fatal("demo office has no version line")
	}
	return re.ReplaceAll(raw, []byte(`version: "`+v+`"`))
}

// invalidOffice is the demo office with a duplicated extension.
func invalidOffice(t *testing.T, v string) []byte {
	t.Helper()
	raw := demoOffice(t, v)
	re := regexp.MustCompile(`extension: "1002"`)
	if !re.Match(raw) {
		t.Fatal("demo office has no extension 1002")
	}
	return re.ReplaceAll(raw, []byte(`extension: "1001"`))
}

// replaceFile writes data next to path and renames it over, as editors do.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := filepath.Join(filepath.Dir(path), ".office.yaml.swp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileDirectoryLifecycle(t *testing.T) {
	dir := t.TempDir()
	office := filepath.Join(dir, "office.yaml")
	if err := os.WriteFile(office, demoOffice(t, "v1"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, "directory: {file: office.yaml}\n")
	d := startDaemon(t, dir)

	s := d.status()
	if !s.Ready || s.Directory.Version != "v1" || s.Directory.Source != "file" || s.Directory.Error != "" {
		t.Fatalf("status at start: %+v", s)
	}

	replaceFile(t, office, demoOffice(t, "v2"))
	eventually(t, 3*time.Second, "rename-replaced v2 applied", func() bool { return d.status().Directory.Version == "v2" })

	replaceFile(t, office, invalidOffice(t, "v3-bad"))
	eventually(t, 3*time.Second, "invalid v3 reported", func() bool { return d.status().Directory.Error != "" })
	s = d.status()
	if s.Directory.Version != "v2" || !strings.Contains(s.Directory.Error, "1001") {
		t.Fatalf("after invalid change: %+v (want v2 kept and an error naming 1001)", s)
	}
	if _, err := d.notify.waitFor("last error", 2*time.Second); err != nil {
		t.Errorf("STATUS= with the error: %v", err)
	}

	// Plain truncate + write in place.
	if err := os.WriteFile(office, demoOffice(t, "v4"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "in-place v4 applied", func() bool { return d.status().Directory.Version == "v4" })
	if s := d.status(); s.Directory.Error != "" {
		t.Errorf("error not cleared after a valid change: %q", s.Directory.Error)
	}

	// A broken file at restart: the daemon comes up on the last good copy.
	if err, _ := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	replaceFile(t, office, invalidOffice(t, "v5-bad"))
	d = startDaemon(t, dir)
	s = d.status()
	if s.Directory.Version != "v4" || s.Directory.Source != "store" || s.Directory.Error == "" {
		t.Fatalf("restart with a broken file: %+v (want v4 from store with an error)", s)
	}
	replaceFile(t, office, demoOffice(t, "v6"))
	eventually(t, 3*time.Second, "v6 applied after restart", func() bool {
		s := d.status()
		return s.Directory.Version == "v6" && s.Directory.Source == "file" && s.Directory.Error == ""
	})
}

// upstream is a fake directory API whose behaviour the test switches.
type upstream struct {
	mu      sync.Mutex
	mode    string // ok, 500, slow, garbage
	body    []byte
	etag    string
	hits    int
	lastINM string
	auth    string
}

func (u *upstream) set(mode string, body []byte, etag string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.mode, u.body, u.etag = mode, body, etag
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	u.hits++
	u.lastINM, u.auth = r.Header.Get("If-None-Match"), r.Header.Get("Authorization")
	mode, body, etag := u.mode, u.body, u.etag
	u.mu.Unlock()
	switch mode {
	case "500":
		http.Error(w, "upstream broken", http.StatusInternalServerError)
	case "slow":
		select {
		case <-r.Context().Done():
		case <-time.After(20 * time.Second):
		}
	case "garbage":
		w.Write([]byte("{{{ not json"))
	default:
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

func (u *upstream) hitCount() int { u.mu.Lock(); defer u.mu.Unlock(); return u.hits }

func TestAPIDirectoryLifecycle(t *testing.T) {
	dir := t.TempDir()
	up := &upstream{}
	up.set("ok", jsonOffice(t, "api-1"), `"e1"`)
	srv := httptest.NewServer(up)
	defer srv.Close()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, "directory: {api: {url: \""+srv.URL+"/v1/sites/test/directory\", token_file: token, poll_interval: 1s}}\n")
	d := startDaemon(t, dir)
	if s := d.status(); s.Directory.Version != "api-1" || s.Directory.Source != "api" {
		t.Fatalf("status at start: %+v", s)
	}
	up.mu.Lock()
	auth := up.auth
	up.mu.Unlock()
	if auth != "Bearer s3cret" {
		t.Errorf("Authorization = %q", auth)
	}
	// 304: unchanged, and the ETag was sent.
	h := up.hitCount()
	eventually(t, 5*time.Second, "a conditional poll", func() bool { return up.hitCount() > h })
	up.mu.Lock()
	inm := up.lastINM
	up.mu.Unlock()
	if inm != `"e1"` {
		t.Errorf("If-None-Match = %q", inm)
	}

	up.set("ok", jsonOffice(t, "api-2"), `"e2"`)
	eventually(t, 5*time.Second, "api-2 applied", func() bool { return d.status().Directory.Version == "api-2" })

	for _, mode := range []string{"500", "slow", "garbage"} {
		up.set(mode, nil, "")
		eventually(t, 30*time.Second, mode+" reported", func() bool { return d.status().Directory.Error != "" })
		if s := d.status(); s.Directory.Version != "api-2" {
			t.Fatalf("%s replaced the directory: %+v", mode, s)
		}
		up.set("ok", jsonOffice(t, "api-2"), `"e2"`)
		eventually(t, 30*time.Second, "recovery after "+mode, func() bool { return d.status().Directory.Error == "" })
	}

	up.set("ok", invalidJSONOffice(t, "api-3-bad"), `"e3"`)
	eventually(t, 10*time.Second, "invalid document reported", func() bool { return d.status().Directory.Error != "" })
	if s := d.status(); s.Directory.Version != "api-2" {
		t.Fatalf("invalid document applied: %+v", s)
	}

	// Upstream gone, daemon restarted: it starts from the store.
	if err, _ := d.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	srv.Close()
	d = startDaemon(t, dir)
	if s := d.status(); s.Directory.Version != "api-2" || s.Directory.Source != "store" || s.Directory.Error == "" {
		t.Fatalf("restart without upstream: %+v", s)
	}
}

// jsonOffice is the demo office as the upstream API's JSON.
func jsonOffice(t *testing.T, v string) []byte { return yamlToJSON(t, demoOffice(t, v)) }

func invalidJSONOffice(t *testing.T, v string) []byte { return yamlToJSON(t, invalidOffice(t, v)) }

func yamlToJSON(t *testing.T, y []byte) []byte {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(y, &doc); err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return j
}
