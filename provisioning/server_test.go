package provisioning

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

const (
	uaYealinkT54W = "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:01"
	uaPolyVVX450  = "FileTransport PolycomVVX-VVX_450-UA/6.4.3.5027 (SN:0004f2000001) Type/Application"
)

// headersWithoutDate are a response's headers minus Date, which changes by
// the second.
func headersWithoutDate(w *httptest.ResponseRecorder) http.Header {
	h := w.Result().Header.Clone()
	h.Del("Date")
	return h
}

func TestNotFoundIsAlwaysTheSame(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	reference := get(s.Handler(), "/0015659999aa.cfg", "") // unknown MAC
	if reference.Code != http.StatusNotFound {
		t.Fatalf("unknown MAC: status %d, want 404", reference.Code)
	}
	tests := []struct{ name, path, ua string }{
		{"unknown MAC, other vendor's file name", "/cfg0015659999aa.xml", ""},
		{"known MAC, file its vendor does not have", "/001565000001-deskgate.cfg", ""},
		{"known Poly MAC, Yealink boot file", "/0004f2000001.boot", ""},
		{"name no vendor uses", "/phonebook.xml", ""},
		{"sub-directory", "/cfg/001565000001.cfg", ""},
		{"dot segment", "/..", ""},
		{"empty path", "/", ""},
		{"common file without MAC in the User-Agent", "/y000000000096.cfg", ""},
		{"common file for an unknown MAC", "/y000000000096.cfg", "Yealink SIP-T54W 96.86.0.100 00:15:65:99:99:aa"},
		{"common file of another vendor", "/y000000000096.cfg", uaPolyVVX450},
		{"Poly override file", "/0004f2000001-phone.cfg", uaPolyVVX450},
		{"all-zero MAC as a phone file", "/000000000000.boot", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := get(s.Handler(), tt.path, tt.ua)
			if w.Code != reference.Code || w.Body.String() != reference.Body.String() {
				t.Errorf("got %d %q, want %d %q", w.Code, w.Body, reference.Code, reference.Body)
			}
			if got, want := headersWithoutDate(w), headersWithoutDate(reference); !equalHeaders(got, want) {
				t.Errorf("headers %v, want %v", got, want)
			}
		})
	}
}

func equalHeaders(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if strings.Join(v, "\x00") != strings.Join(b.Values(k), "\x00") {
			return false
		}
	}
	return true
}

func TestUserAgentMACMustMatch(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	tests := []struct {
		name, path, ua string
		want           int
	}{
		{"Yealink, own MAC", "/001565000001.cfg", uaYealinkT54W, 200},
		{"Yealink, own MAC without colons", "/001565000001.cfg", "Yealink SIP-T54W 96.86.0.100 001565000001", 200},
		{"Yealink, another phone's MAC", "/001565000002.cfg", uaYealinkT54W, 403},
		{"Yealink boot file, another phone's MAC", "/001565000002.boot", uaYealinkT54W, 403},
		{"another MAC asking for an unknown MAC's file: 403, not 404", "/0015659999aa.cfg", uaYealinkT54W, 403},
		{"Poly SN matches", "/0004f2000001-deskgate.cfg", uaPolyVVX450, 200},
		{"Poly SN of another phone", "/0004f2000002-deskgate.cfg", uaPolyVVX450, 403},
		{"Poly firmware without SN", "/0004f2000002-deskgate.cfg", "FileTransport PolycomVVX-VVX_450-UA/5.9.0.9373 Type/Application", 200},
		{"browser User-Agent carries no MAC", "/001565000002.cfg", "curl/8.5.0", 200},
		{"Grandstream DevId of another phone", "/001565000002.cfg", "Grandstream Model HW GRP2614 SW 1.0.5.67 DevId c074ad112233", 403},
		{"Grandstream, own DevId", "/cfgc074ad000001.xml", "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId c074ad000001", 200},
		{"Grandstream, name without .xml", "/cfgc074ad000001", "Grandstream Model HW GXP2170 SW 1.0.11.3 DevId c074ad000001", 200},
		{"Cisco, own MAC", "/00562b000001.xml", "Cisco-CP-8851-3PCC/11.3.7 (00562b000001)", 200},
		{"Cisco, another phone's MAC", "/spa00562b000002.xml", "Cisco-CP-8851-3PCC/11.3.7 (00562b000001)", 403},
		{"Cisco, serial number instead of a MAC", "/00562b000002.xml", "Cisco-CP-8851-3PCC/11.3.7 (FCH2145ABCD)", 200},
		{"Fanvil, another phone's MAC", "/0c383e000002.cfg", "Fanvil X6U 2.12.1 0c383e000001", 403},
		{"Snom, another phone's MAC", "/snomD785-000413000002.htm", "Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 000413000001)", 403},
		{"Snom, own MAC", "/snomD785-000413000002.htm", "Mozilla/4.0 (compatible; snomD785-SIP 10.1.169.16 000413000002 SXM:0 UXM:0)", 200},
		{"Cisco bootstrap $PSN.xml, known Cisco MAC", "/8851-3PCC.xml", "Cisco-CP-8851-3PCC/11.3.7 (00562b000001)", 200},
		{"Cisco bootstrap, unknown MAC", "/8851-3PCC.xml", "Cisco-CP-8851-3PCC/11.3.7 (00562b0000ff)", 404},
		{"Cisco bootstrap, no MAC in the User-Agent", "/8851-3PCC.xml", "curl/8.5.0", 404},
		{"Cisco bootstrap asked by a Yealink phone", "/8851-3PCC.xml", uaYealinkT54W, 404},
		{"Snom, .xml spelling", "/snomd785-000413000002.xml", "", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if w := get(s.Handler(), tt.path, tt.ua); w.Code != tt.want {
				t.Errorf("status %d, want %d: %s", w.Code, tt.want, w.Body)
			}
		})
	}
}

func TestBasicAuth(t *testing.T) {
	snap := goldenOffice(t)
	s, logs := newTestServer(t, snap, func(o *Options) { o.Username, o.Password = "prov", "s3cret" })
	tests := []struct {
		name       string
		user, pass string
		path       string
		want       int
	}{
		{"no credentials", "", "", "/001565000001.cfg", 401},
		{"wrong password", "prov", "guess", "/001565000001.cfg", 401},
		{"wrong user", "admin", "s3cret", "/001565000001.cfg", 401},
		{"password as a prefix", "prov", "s3cre", "/001565000001.cfg", 401},
		{"unknown MAC without credentials is 401 too", "", "", "/0015659999aa.cfg", 401},
		{"right credentials", "prov", "s3cret", "/001565000001.cfg", 200},
		{"right credentials, unknown MAC", "prov", "s3cret", "/0015659999aa.cfg", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := do(s.Handler(), http.MethodGet, tt.path, "", "192.0.2.50:1", func(r *http.Request) {
				if tt.user != "" {
					r.SetBasicAuth(tt.user, tt.pass)
				}
			})
			if w.Code != tt.want {
				t.Fatalf("status %d, want %d", w.Code, tt.want)
			}
			if tt.want == 401 && !strings.HasPrefix(w.Header().Get("WWW-Authenticate"), "Basic realm=") {
				t.Errorf("WWW-Authenticate = %q", w.Header().Get("WWW-Authenticate"))
			}
		})
	}
	if strings.Contains(logs.String(), "s3cret") || strings.Contains(logs.String(), "guess") {
		t.Error("a provisioning password was logged")
	}
}

// Every phone of the demo office gets its files, and no file carries a
// password other than its own user's.
func TestSecretsStayWithTheirPhone(t *testing.T) {
	for _, office := range []struct {
		name string
		snap *directory.Snapshot
	}{{"demo", directorytest.Demo(t)}, {"every vendor", goldenOffice(t)}} {
		t.Run(office.name, func(t *testing.T) { checkSecrets(t, office.snap) })
	}
}

func checkSecrets(t *testing.T, snap *directory.Snapshot) {
	s, _ := newTestServer(t, snap, func(o *Options) { o.RateBurst = 1000 }) // one source, fixed clock

	for _, p := range snap.Phones() {
		t.Run(p.MAC, func(t *testing.T) {
			for _, path := range allPhonePaths(p) {
				w := get(s.Handler(), path, "")
				if w.Code != http.StatusOK {
					t.Fatalf("%s: status %d", path, w.Code)
				}
				body := w.Body.String()
				for _, u := range snap.Users() {
					if u.ID != p.User && strings.Contains(body, passwordOf(u.ID)) {
						t.Errorf("%s (%s) holds %s's password", path, p.User, u.ID)
					}
				}
			}
			if body := get(s.Handler(), phonePath(p), "").Body.String(); !strings.Contains(body, passwordOf(p.User)) {
				t.Errorf("%s lacks its own user's password", phonePath(p))
			}
		})
	}
}

// allPhonePaths lists every per-phone file a vendor serves.
func allPhonePaths(p directory.Phone) []string {
	hex := compactMAC(p.MAC)
	switch directory.Vendor(p.Model) {
	case "yealink":
		return []string{"/" + hex + ".cfg", "/" + hex + ".boot"}
	case "poly":
		return []string{"/" + hex + "-deskgate.cfg", "/" + hex + ".cfg"}
	}
	return []string{phonePath(p)}
}

func TestCommonFilesCarryNoSecret(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	for _, c := range []struct{ path, ua string }{
		{"/y000000000096.cfg", uaYealinkT54W},
		{"/y000000000000.cfg", uaYealinkT54W},
		{"/000000000000.cfg", uaPolyVVX450},
		{"/0004f2000001.cfg", ""}, // Poly's per-phone master file names files only
		{"/001565000001.boot", ""},
		{"/8851-3PCC.xml", "Cisco-CP-8851-3PCC/11.3.7 (00562b000001)"}, // Cisco bootstrap
	} {
		w := get(s.Handler(), c.path, c.ua)
		if w.Code != http.StatusOK {
			t.Fatalf("%s: status %d", c.path, w.Code)
		}
		body := strings.ToLower(w.Body.String())
		for _, u := range snap.Users() {
			if strings.Contains(body, strings.ToLower(passwordOf(u.ID))) {
				t.Errorf("%s holds %s's password", c.path, u.ID)
			}
		}
		if strings.Contains(body, "password") {
			t.Errorf("%s mentions a password:\n%s", c.path, body)
		}
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	snap := goldenOffice(t)
	tests := []struct {
		name string
		edit func(*Options)
	}{
		{"no listen", func(o *Options) { o.Listen = "" }},
		{"listen without port", func(o *Options) { o.Listen = "127.0.0.1" }},
		{"no directory", func(o *Options) { o.Directory = nil }},
		{"no credentials source", func(o *Options) { o.Credentials = nil }},
		{"username without password", func(o *Options) { o.Password = ""; o.Username = "u" }},
		{"no SIP server", func(o *Options) { o.SIPServer = "" }},
		{"bad SIP port", func(o *Options) { o.SIPServer = "192.0.2.1:99999" }},
		{"bad transport", func(o *Options) { o.Transport = "sctp" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Listen: "127.0.0.1:0", SIPServer: "192.0.2.1", Credentials: fakeCredentials,
				Directory: func() *directory.Snapshot { return snap }}
			tt.edit(&opts)
			if _, err := New(opts); err == nil {
				t.Error("New accepted the options")
			}
		})
	}
}

func TestRunServesAndStops(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, func(o *Options) { o.Now = time.Now })
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, func() { close(ready) }) }()
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("not ready after 5s")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr().String()+"/001565000001.boot", nil)
	req.Header.Set("User-Agent", uaYealinkT54W)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `include:config "001565000001.cfg"`) {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v after cancel", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop within 5s")
	}
}

func TestRunReportsBindError(t *testing.T) {
	snap := goldenOffice(t)
	a, _ := newTestServer(t, snap, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{})
	go func() { _ = a.Run(ctx, func() { close(ready) }) }()
	<-ready
	b, _ := newTestServer(t, snap, func(o *Options) { o.Listen = a.Addr().String() })
	if err := b.Run(ctx, func() { t.Error("ready called although the bind failed") }); err == nil {
		t.Error("second Run on the same port succeeded")
	}
}
