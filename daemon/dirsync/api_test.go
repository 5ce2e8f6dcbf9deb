package dirsync

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const testToken = "s3cret-Token"

// authURL puts credentials in the URL, to check errors redact them.
func authURL(f *fakeAPI) string {
	return strings.Replace(f.srv.URL, "http://", "http://deskgate:pw-in-url@", 1) + "/v1/sites/hq/directory"
}

func TestAPIConditionalGet(t *testing.T) {
	f := newFakeAPI(t, testToken)
	f.publish(doc("a"))
	etag := f.etag
	tok := writeToken(t, t.TempDir(), "  "+testToken+"\n", 0o600)
	rec := &recorder{origin: OriginAPI, reject: rejectInvalid}
	run(t, newTestAPISource(t, fastAPIOptions(f.srv.URL, tok)), rec)
	waitApplied(t, rec, 0, doc("a"))
	f.waitRequests(t, 0, 4)

	headers, answers := f.since(0)
	for i, h := range headers {
		for name, want := range map[string]string{
			"Authorization": "Bearer " + testToken,
			"Accept":        "application/json",
			"User-Agent":    "deskgated",
		} {
			if got := h.Get(name); got != want {
				t.Errorf("request %d: %s = %q, want %q", i, name, got, want)
			}
		}
		wantINM, wantStatus := etag, http.StatusNotModified
		if i == 0 {
			wantINM, wantStatus = "", http.StatusOK
		}
		if got := h.Get("If-None-Match"); got != wantINM {
			t.Errorf("request %d: If-None-Match = %q, want %q", i, got, wantINM)
		}
		if answers[i] != wantStatus {
			t.Errorf("request %d: answered %d, want %d", i, answers[i], wantStatus)
		}
	}
	if all, _ := rec.appliesSince(0); len(all) != 1 {
		t.Errorf("applies %q, want one", all)
	}
}

// A new ETag on the same bytes is adopted without applying anything.
func TestAPISameBodyNewETag(t *testing.T) {
	f := newFakeAPI(t, testToken)
	f.publish(doc("a"))
	rec := &recorder{origin: OriginAPI, reject: rejectInvalid}
	run(t, newTestAPISource(t, fastAPIOptions(f.srv.URL, writeToken(t, t.TempDir(), testToken, 0o600))), rec)
	waitApplied(t, rec, 0, doc("a"))
	f.set(func(f *fakeAPI) { f.etag = `"renamed"` })
	from := f.count()
	eventually(t, "If-None-Match carries the new ETag", func() bool {
		headers, _ := f.since(from)
		return len(headers) > 0 && headers[len(headers)-1].Get("If-None-Match") == `"renamed"`
	})
	if all, _ := rec.appliesSince(0); len(all) != 1 {
		t.Errorf("applies %q, want only the first", all)
	}
}

// A rejected document does not move the ETag: the body is fetched (and
// offered) again, with backoff, until a valid one replaces it.
func TestAPIRejectedKeepsOldETag(t *testing.T) {
	f := newFakeAPI(t, testToken)
	f.publish(doc("a"))
	etagA := f.etag
	rec := &recorder{origin: OriginAPI, reject: rejectInvalid}
	run(t, newTestAPISource(t, fastAPIOptions(f.srv.URL, writeToken(t, t.TempDir(), testToken, 0o600))), rec)
	waitApplied(t, rec, 0, doc("a"))

	applies, _ := rec.mark()
	from := f.count()
	f.publish("invalid garbage <html>")
	eventually(t, "garbage offered three times", func() bool {
		all, _ := rec.appliesSince(applies)
		return len(all) >= 3
	})
	headers, _ := f.since(from + 1) // from+1: the first may predate publish
	for i, h := range headers[:len(headers)-1] {
		if got := h.Get("If-None-Match"); got != etagA {
			t.Errorf("request %d after the rejection: If-None-Match = %q, want the last good %q", i, got, etagA)
		}
	}
	f.publish(doc("b"))
	waitApplied(t, rec, applies, doc("b"))
	if _, reports := rec.mark(); reports != 0 {
		t.Errorf("reports %v: a rejection is not a fetch error", rec.reportsSince(0))
	}
}

func TestAPITokenRotation(t *testing.T) {
	f := newFakeAPI(t, "old-token")
	f.publish(doc("a"))
	dir := t.TempDir()
	tok := writeToken(t, dir, "old-token", 0o600)
	rec := &recorder{origin: OriginAPI, reject: rejectInvalid}
	run(t, newTestAPISource(t, fastAPIOptions(f.srv.URL, tok)), rec)
	waitApplied(t, rec, 0, doc("a"))

	_, reports := rec.mark()
	writeToken(t, dir, "new-token\n", 0o600)
	f.set(func(f *fakeAPI) { f.token = "new-token" })
	f.publish(doc("b"))
	waitApplied(t, rec, 1, doc("b"))
	for _, err := range rec.reportsSince(reports) {
		// Between the two writes above the server may refuse one request.
		if !strings.Contains(err.Error(), "401") {
			t.Errorf("unexpected report %v", err)
		}
	}
}

// failureCase breaks the upstream (or the token file) before Run starts,
// then fixes it.
type failureCase struct {
	name       string
	opts       func(o *APIOptions)
	breakIt    func(t *testing.T, f *fakeAPI, tok string)
	fix        func(t *testing.T, f *fakeAPI, tok string)
	match      string // every report contains this
	is         error  // and matches this with errors.Is, when set
	noRequests bool   // the failure is local: nothing may reach the server
}

func failureCases() []failureCase {
	return []failureCase{{
		name:    "server error",
		breakIt: func(t *testing.T, f *fakeAPI, tok string) { f.set(func(f *fakeAPI) { f.status = 500 }) },
		fix:     func(t *testing.T, f *fakeAPI, tok string) { f.set(func(f *fakeAPI) { f.status = 0 }) },
		match:   `status 500 Internal Server Error (body: "upstream says no")`,
	}, {
		name:    "wrong token",
		breakIt: func(t *testing.T, f *fakeAPI, tok string) { writeToken(t, filepath.Dir(tok), "wrong", 0o600) },
		fix:     func(t *testing.T, f *fakeAPI, tok string) { writeToken(t, filepath.Dir(tok), testToken, 0o600) },
		match:   "status 401 Unauthorized",
	}, {
		name:    "slow response",
		opts:    func(o *APIOptions) { o.Timeout = 50 * time.Millisecond },
		breakIt: func(t *testing.T, f *fakeAPI, tok string) { f.set(func(f *fakeAPI) { f.stall = true }) },
		fix:     func(t *testing.T, f *fakeAPI, tok string) { f.set(func(f *fakeAPI) { f.stall = false }) },
		match:   "no complete response within 50ms",
		is:      context.DeadlineExceeded,
	}, {
		name:    "oversize with content length",
		opts:    func(o *APIOptions) { o.MaxBytes = 64 },
		breakIt: func(t *testing.T, f *fakeAPI, tok string) { f.publish(strings.Repeat("x", 65)) },
		match:   "response larger than 64 bytes",
	}, {
		name: "oversize streamed",
		opts: func(o *APIOptions) { o.MaxBytes = 64 },
		breakIt: func(t *testing.T, f *fakeAPI, tok string) {
			f.publish(strings.Repeat("x", 200))
			f.set(func(f *fakeAPI) { f.chunked = true })
		},
		match: "response larger than 64 bytes",
	}, {
		name:       "token file readable by others",
		breakIt:    func(t *testing.T, f *fakeAPI, tok string) { must(t, os.Chmod(tok, 0o644)) },
		fix:        func(t *testing.T, f *fakeAPI, tok string) { must(t, os.Chmod(tok, 0o600)) },
		match:      "has mode 0644: it must not be readable by group or others (chmod 0600)",
		noRequests: true,
	}, {
		name:       "token file missing",
		breakIt:    func(t *testing.T, f *fakeAPI, tok string) { must(t, os.Remove(tok)) },
		fix:        func(t *testing.T, f *fakeAPI, tok string) { writeToken(t, filepath.Dir(tok), testToken, 0o600) },
		match:      "read token file",
		is:         os.ErrNotExist,
		noRequests: true,
	}}
}

func TestAPIFailuresThenRecovery(t *testing.T) {
	for _, tt := range failureCases() {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, testToken)
			tok := writeToken(t, t.TempDir(), testToken, 0o600)
			opts := fastAPIOptions(authURL(f), tok)
			if tt.opts != nil {
				tt.opts(&opts)
			}
			f.publish(doc("a"))
			tt.breakIt(t, f, tok)
			rec := &recorder{origin: OriginAPI, reject: rejectInvalid}
			run(t, newTestAPISource(t, opts), rec)

			eventually(t, "three reports (retries)", func() bool { _, n := rec.mark(); return n >= 3 })
			checkReports(t, rec.reportsSince(0), tt.match, tt.is)
			if all, _ := rec.appliesSince(0); len(all) > 0 {
				t.Errorf("applied %q despite the failure", all)
			}
			if n := f.count(); tt.noRequests && n > 0 {
				t.Errorf("server saw %d requests, want none", n)
			}
			// The new document first, so the fix cannot let "a" through.
			f.set(func(f *fakeAPI) { f.chunked = false })
			f.publish(doc("b"))
			if tt.fix != nil {
				tt.fix(t, f, tok)
			}
			waitApplied(t, rec, 0, doc("b"))
			eventually(t, "report(nil) after recovery", func() bool {
				rec.mu.Lock()
				defer rec.mu.Unlock()
				return rec.clears > 0
			})
		})
	}
}

// checkReports checks every report names the redacted URL, contains match,
// and never shows a secret.
func checkReports(t *testing.T, reports []error, match string, is error) {
	t.Helper()
	for _, err := range reports {
		msg := err.Error()
		if !strings.Contains(msg, match) {
			t.Errorf("report %q does not contain %q", msg, match)
		}
		if is != nil && !errors.Is(err, is) {
			t.Errorf("report %q is not %v", msg, is)
		}
		if strings.Contains(msg, "pw-in-url") || strings.Contains(msg, testToken) {
			t.Errorf("report %q shows a secret", msg)
		}
		if !strings.Contains(msg, "deskgate:xxxxx@127.0.0.1") {
			t.Errorf("report %q does not name the (redacted) URL", msg)
		}
	}
}

func TestAPIServerGone(t *testing.T) {
	f := newFakeAPI(t, testToken)
	f.srv.Close()
	rec := &recorder{origin: OriginAPI, reject: rejectInvalid}
	run(t, newTestAPISource(t, fastAPIOptions(authURL(f), writeToken(t, t.TempDir(), testToken, 0o600))), rec)
	eventually(t, "three reports (retries)", func() bool { _, n := rec.mark(); return n >= 3 })
	checkReports(t, rec.reportsSince(0), "get http://deskgate:xxxxx@127.0.0.1", syscall.ECONNREFUSED)
	if all, _ := rec.appliesSince(0); len(all) > 0 {
		t.Errorf("applied %q with the server gone", all)
	}
}

func TestAPIFetch(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(f *fakeAPI)
		timeout time.Duration
		want    string
		wantErr string
	}{
		{name: "ok", setup: func(f *fakeAPI) {}, want: doc("a")},
		{name: "server error", setup: func(f *fakeAPI) { f.status = 503 }, wantErr: "status 503 Service Unavailable"},
		{name: "not found", setup: func(f *fakeAPI) { f.status = 404 }, wantErr: "status 404 Not Found"},
		// 304 to a request without If-None-Match makes no sense: an error.
		{name: "unasked 304", setup: func(f *fakeAPI) { f.status = 304 }, wantErr: "status 304 Not Modified"},
		{name: "slow", setup: func(f *fakeAPI) { f.stall = true }, timeout: 30 * time.Millisecond, wantErr: "no complete response within 30ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAPI(t, testToken)
			f.publish(doc("a"))
			f.set(tt.setup)
			opts := fastAPIOptions(authURL(f), writeToken(t, t.TempDir(), testToken, 0o600))
			opts.Timeout = cmpOr(tt.timeout, opts.Timeout)
			src := newTestAPISource(t, opts)
			got, err := src.Fetch(context.Background())
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("Fetch = %q, want an error", got)
				}
				checkReports(t, []error{err}, tt.wantErr, nil)
			} else if err != nil || string(got) != tt.want {
				t.Fatalf("Fetch = %q, %v; want %q", got, err, tt.want)
			}
			headers, _ := f.since(0)
			if len(headers) != 1 {
				t.Fatalf("Fetch sent %d requests, want 1", len(headers))
			}
			if inm := headers[0].Get("If-None-Match"); inm != "" {
				t.Errorf("Fetch sent If-None-Match %q, want none", inm)
			}
		})
	}
}

func TestBackoff(t *testing.T) {
	const lo, hi = time.Second, 5 * time.Minute
	top := func(n int64) int64 { return n - 1 }
	tests := []struct {
		failures int
		lo, hi   time.Duration
		want     time.Duration // with randN at its top
	}{
		{failures: 1, lo: lo, hi: hi, want: time.Second},
		{failures: 2, lo: lo, hi: hi, want: 2 * time.Second},
		{failures: 5, lo: lo, hi: hi, want: 16 * time.Second},
		{failures: 9, lo: lo, hi: hi, want: 256 * time.Second},
		{failures: 10, lo: lo, hi: hi, want: hi},
		{failures: 1000, lo: lo, hi: hi, want: hi},
		{failures: 200, lo: time.Nanosecond, hi: time.Duration(1<<63 - 1), want: time.Duration(1<<63 - 1)},
		{failures: 3, lo: time.Minute, hi: time.Minute, want: time.Minute},
	}
	for _, tt := range tests {
		if got := backoff(tt.failures, tt.lo, tt.hi, top); got != tt.want {
			t.Errorf("backoff(%d, %s, %s) at the top = %s, want %s", tt.failures, tt.lo, tt.hi, got, tt.want)
		}
		if got := backoff(tt.failures, tt.lo, tt.hi, func(int64) int64 { return 0 }); got != 0 {
			t.Errorf("backoff(%d) at the bottom = %s, want 0 (full jitter)", tt.failures, got)
		}
	}
}

func TestNewAPISource(t *testing.T) {
	ok := APIOptions{URL: "https://cloud.example/v1/sites/hq/directory", TokenFile: "/etc/deskgate/token"}
	tests := []struct {
		name    string
		edit    func(o *APIOptions)
		wantErr string
	}{
		{name: "defaults", edit: func(o *APIOptions) {}},
		{name: "empty url", edit: func(o *APIOptions) { o.URL = "" }, wantErr: "want http(s)://host/path"},
		{name: "ftp", edit: func(o *APIOptions) { o.URL = "ftp://cloud.example/x" }, wantErr: "want http(s)"},
		{name: "no host", edit: func(o *APIOptions) { o.URL = "https:///x" }, wantErr: "want http(s)"},
		{name: "bad url", edit: func(o *APIOptions) { o.URL = "https://cloud example/%zz" }, wantErr: "directory api url"},
		{name: "password redacted", edit: func(o *APIOptions) { o.URL = "ftp://u:hunter2@h/" }, wantErr: "u:xxxxx@h"},
		{name: "no token file", edit: func(o *APIOptions) { o.TokenFile = "" }, wantErr: "token file is required"},
		{name: "negative timeout", edit: func(o *APIOptions) { o.Timeout = -time.Second }, wantErr: "negative timeout"},
		{name: "negative size", edit: func(o *APIOptions) { o.MaxBytes = -1 }, wantErr: "negative max bytes"},
		{name: "backoffs crossed", edit: func(o *APIOptions) { o.MinBackoff = time.Hour }, wantErr: "min backoff 1h0m0s above max backoff 5m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := ok
			tt.edit(&o)
			src, err := NewAPISource(o)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if src.poll != DefaultPollInterval || src.timeout != DefaultTimeout || src.maxBytes != DefaultAPIMaxBytes ||
					src.minBackoff != DefaultMinBackoff || src.maxBackoff != DefaultMaxBackoff {
					t.Errorf("defaults not applied: %+v", src)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("NewAPISource error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error %q shows the URL password", err)
			}
		})
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
		wantErr string
	}{
		{name: "trimmed", content: " \tabc.DEF-123_~+/=\r\n", mode: 0o600, want: "abc.DEF-123_~+/="},
		{name: "owner read only", content: "abc", mode: 0o400, want: "abc"},
		{name: "group readable", content: "abc", mode: 0o640, wantErr: "has mode 0640"},
		{name: "world readable", content: "abc", mode: 0o604, wantErr: "has mode 0604"},
		{name: "empty", content: " \n", mode: 0o600, wantErr: "is empty"},
		{name: "inner space", content: "abc def", mode: 0o600, wantErr: "at offset 3"},
		{name: "header injection", content: "abc\r\nX-Evil: 1", mode: 0o600, wantErr: "at offset 3"},
		{name: "non-ascii", content: "abcé", mode: 0o600, wantErr: "non-ASCII byte at offset 3"},
		{name: "too large", content: strings.Repeat("a", maxTokenBytes+1), mode: 0o600, wantErr: "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			must(t, os.WriteFile(p, []byte(tt.content), 0o600))
			must(t, os.Chmod(p, tt.mode))
			got, err := readToken(p)
			if tt.wantErr == "" {
				if err != nil || got != tt.want {
					t.Fatalf("readToken = %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("readToken error %v, want one containing %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("error %q shows (part of) the token", err)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		if _, err := readToken(dir); err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("readToken(dir) error %v, want not a regular file", err)
		}
	})
}

// After a rejected document, the upstream going back to the accepted one
// (a 304 for its ETag) offers that document again, so the daemon can clear
// the rejection it shows.
func TestAPIBackToAcceptedAfterRejection(t *testing.T) {
	f := newFakeAPI(t, testToken)
	f.publish(doc("a"))
	rec := &recorder{origin: OriginAPI, reject: rejectInvalid}
	run(t, newTestAPISource(t, fastAPIOptions(f.srv.URL, writeToken(t, t.TempDir(), testToken, 0o600))), rec)
	waitApplied(t, rec, 0, doc("a"))
	applies, _ := rec.mark()
	f.publish("invalid garbage")
	eventually(t, "garbage offered", func() bool {
		all, _ := rec.appliesSince(applies)
		return len(all) >= 1
	})
	applies, _ = rec.mark()
	f.publish(doc("a")) // same ETag as before: the source's request gets a 304
	waitApplied(t, rec, applies, doc("a"))
}
