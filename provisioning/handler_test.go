package provisioning

import (
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRateLimit(t *testing.T) {
	snap := goldenOffice(t)
	var mu sync.Mutex
	now := testNow
	s, _ := newTestServer(t, snap, func(o *Options) {
		o.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	})
	h := s.Handler()
	for i := range 40 {
		if w := do(h, http.MethodGet, "/0015659999aa.cfg", "", "192.0.2.7:1000", nil); w.Code != 404 {
			t.Fatalf("request %d: status %d, want 404 within the burst", i+1, w.Code)
		}
	}
	w := do(h, http.MethodGet, "/001565000001.cfg", "", "192.0.2.7:1001", nil)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Fatalf("request 41: status %d Retry-After %q, want 429 with Retry-After", w.Code, w.Header().Get("Retry-After"))
	}
	if w := do(h, http.MethodGet, "/001565000002.cfg", "", "192.0.2.8:1000", nil); w.Code != 200 {
		t.Errorf("another source: status %d, want 200", w.Code)
	}
	mu.Lock()
	now = now.Add(100 * time.Millisecond) // 20/s refills two tokens
	mu.Unlock()
	for i, want := range []int{200, 200, 429} {
		if w := do(h, http.MethodGet, "/001565000001.cfg", "", "192.0.2.7:1002", nil); w.Code != want {
			t.Errorf("after 100ms, request %d: status %d, want %d", i+1, w.Code, want)
		}
	}
}

func TestLimiterIsBounded(t *testing.T) {
	l := newLimiter(20, 40, 3)
	for i := range 100 {
		src := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		if !l.allow(src, testNow.Add(time.Duration(i)*time.Millisecond)) {
			t.Fatalf("a new source was refused")
		}
		if n := l.size(); n > 3 {
			t.Fatalf("%d sources tracked, limit 3", n)
		}
	}
	// A source that exhausted its bucket and is evicted comes back full:
	// the bound trades precision for memory, never the other way.
	busy := netip.MustParseAddr("10.9.9.9")
	for range 40 {
		l.allow(busy, testNow)
	}
	if l.allow(busy, testNow) {
		t.Error("exhausted source allowed")
	}
}

func TestMethodsAndHead(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, nil)
	getW := get(s.Handler(), "/001565000001.cfg", "")
	head := do(s.Handler(), http.MethodHead, "/001565000001.cfg", "", "192.0.2.50:1", nil)
	if head.Code != 200 || head.Body.Len() != 0 || head.Header().Get("Content-Length") != getW.Header().Get("Content-Length") {
		t.Errorf("HEAD: %d, %d body bytes, length %q vs %q", head.Code, head.Body.Len(),
			head.Header().Get("Content-Length"), getW.Header().Get("Content-Length"))
	}
	if getW.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", getW.Header().Get("Cache-Control"))
	}
	for _, m := range []string{http.MethodPut, http.MethodPost, http.MethodDelete} {
		if w := do(s.Handler(), m, "/0004f2000001-phone.cfg", "", "192.0.2.50:1", nil); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
			t.Errorf("%s: status %d Allow %q", m, w.Code, w.Header().Get("Allow"))
		}
	}
}

func TestInventoryAndStoreCredentials(t *testing.T) {
	snap := goldenOffice(t)
	db := openStore(t)
	s, logs := newTestServer(t, snap, func(o *Options) { o.Credentials = nil; o.Store = db })
	first := get(s.Handler(), "/001565000001.cfg", uaYealinkT54W)
	second := get(s.Handler(), "/001565000001.cfg", uaYealinkT54W)
	if first.Code != 200 || first.Body.String() != second.Body.String() {
		t.Fatalf("status %d; the file changed between two fetches", first.Code)
	}
	c, ok, err := db.LookupCredential("pat")
	if err != nil || !ok || !strings.Contains(first.Body.String(), "account.1.password = "+c.Password) || c.Username != "1101" {
		t.Fatalf("credential %+v ok=%v err=%v not in the file", c, ok, err)
	}
	if _, ok, _ := db.LookupCredential("olive"); ok {
		t.Error("serving pat's phone created olive's credential")
	}
	inv, err := db.Inventory()
	if err != nil || len(inv) != 1 {
		t.Fatalf("inventory %+v, %v", inv, err)
	}
	got := inv[0]
	if got.MAC != "00:15:65:00:00:01" || got.Vendor != "yealink" || got.Model != "yealink-t54w" ||
		got.Address != "192.0.2.50" || got.Source != "provisioning" || !got.LastSeen.Equal(testNow) {
		t.Errorf("inventory entry %+v", got)
	}
	get(s.Handler(), "/0015659999aa.cfg", "")
	if inv, _ := db.Inventory(); len(inv) != 1 {
		t.Errorf("an unknown MAC was recorded: %+v", inv)
	}
	if strings.Contains(logs.String(), c.Password) {
		t.Error("the SIP password was logged")
	}
}

func TestRequestLog(t *testing.T) {
	snap := goldenOffice(t)
	s, logs := newTestServer(t, snap, nil)
	get(s.Handler(), "/001565000004.cfg", "")
	get(s.Handler(), "/0015659999aa.cfg", "")
	out := logs.String()
	for _, want := range []string{
		`msg="provisioning request" component=provisioning mac=00:15:65:00:00:04 addr=192.0.2.50 status=200 path=/001565000004.cfg`,
		`msg="provisioning request" component=provisioning mac=00:15:65:99:99:aa addr=192.0.2.50 status=404 path=/0015659999aa.cfg`,
		`msg="phone key not placed" component=provisioning mac=00:15:65:00:00:04 model=yealink-t31p user=tim key="away key \"Away all\" (away) does not fit: yealink-t31p has 2 line keys"`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestCredentialErrorIs500(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, func(o *Options) {
		o.Credentials = func(string, string) (string, error) { return "", errors.New("disk on fire") }
	})
	if w := get(s.Handler(), "/001565000001.cfg", ""); w.Code != 500 || strings.Contains(w.Body.String(), "fire") {
		t.Errorf("status %d body %q", w.Code, w.Body)
	}
}

func TestNoDirectoryYet(t *testing.T) {
	s, _ := newTestServer(t, nil, nil)
	if w := get(s.Handler(), "/001565000001.cfg", ""); w.Code != 404 {
		t.Errorf("status %d, want 404", w.Code)
	}
}
