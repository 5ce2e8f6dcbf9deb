package provisioning

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// testNow is the fixed clock of handler tests.
var testNow = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// passwordOf is the fake credential store of tests: deterministic, and
// distinct per user so a leak is visible.
func passwordOf(user string) string { return "pw-" + user + "-Zq7x" }

func fakeCredentials(user, username string) (string, error) { return passwordOf(user), nil }

// goldenOffice is testdata/office.yaml: one user per role, one phone per
// role and vendor.
func goldenOffice(t testing.TB) *directory.Snapshot {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "office.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	snap, err := directory.Parse(b)
	if err != nil {
		t.Fatalf("testdata/office.yaml: %v", err)
	}
	return snap
}

// logBuffer collects log output safely across goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newTestServer returns a server over snap with fake credentials, a fixed
// clock and a log buffer; edit tweaks the options first.
func newTestServer(t testing.TB, snap *directory.Snapshot, edit func(*Options)) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts := Options{
		Listen:          "127.0.0.1:0",
		BaseURL:         "http://192.0.2.10:8080/",
		Domain:          "hq.example.test",
		SIPServer:       "192.0.2.10:5060",
		Directory:       func() *directory.Snapshot { return snap },
		Credentials:     fakeCredentials,
		VoicemailNumber: "*97",
		Log:             slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:             func() time.Time { return testNow },
	}
	if edit != nil {
		edit(&opts)
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, logs
}

// openStore opens a fresh state database in a temp dir.
func openStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// get performs one request against h from a fixed source address.
func get(h http.Handler, path, ua string) *httptest.ResponseRecorder {
	return do(h, http.MethodGet, path, ua, "192.0.2.50:40000", nil)
}

func do(h http.Handler, method, path, ua, remote string, edit func(*http.Request)) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "http://prov.test"+path, nil)
	r.RemoteAddr = remote
	if ua != "" {
		r.Header.Set("User-Agent", ua)
	}
	if edit != nil {
		edit(r)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// phoneOf finds the phone of user whose model belongs to vendor.
func phoneOf(t testing.TB, snap *directory.Snapshot, user, vendor string) directory.Phone {
	t.Helper()
	for _, p := range snap.PhonesOf(user) {
		if directory.Vendor(p.Model) == vendor {
			return *p
		}
	}
	t.Fatalf("no %s phone for %s", vendor, user)
	return directory.Phone{}
}

// phonePath is the request path of a phone's main file for its vendor.
func phonePath(p directory.Phone) string {
	hex := compactMAC(p.MAC)
	switch directory.Vendor(p.Model) {
	case "yealink", "fanvil":
		return "/" + hex + ".cfg"
	case "poly":
		return "/" + hex + "-deskgate.cfg"
	case "grandstream":
		return "/cfg" + hex + ".xml"
	case "snom":
		return "/snom" + modelName(p.Model) + "-" + strings.ToUpper(hex) + ".htm"
	case "cisco":
		return "/" + hex + ".xml"
	}
	return "/unknown"
}
