package dirsync

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// API source defaults.
const (
	DefaultPollInterval = 30 * time.Second
	DefaultTimeout      = 10 * time.Second
	DefaultAPIMaxBytes  = 8 << 20
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 5 * time.Minute
)

// APIOptions configure an APISource. Zero durations and sizes take the defaults.
type APIOptions struct {
	URL          string // http or https
	TokenFile    string // bearer token, mode 0600 (no group/other bits); required
	PollInterval time.Duration
	Timeout      time.Duration // per request, body included
	MaxBytes     int64         // larger responses are an error
	MinBackoff   time.Duration // first retry after a failure waits up to this
	MaxBackoff   time.Duration // retries never wait longer than this
	Client       *http.Client  // default: a client on http.DefaultTransport
	Log          *slog.Logger
}

// APISource polls an upstream HTTP API for the directory document, with
// If-None-Match and exponential backoff with full jitter after failures.
// An APISource holds no state between calls; Run keeps its own.
type APISource struct {
	url        string // as configured: what is requested
	shown      string // with any password redacted: what errors and logs name
	tokenFile  string
	poll       time.Duration
	timeout    time.Duration
	maxBytes   int64
	minBackoff time.Duration
	maxBackoff time.Duration
	client     *http.Client
	log        *slog.Logger
}

// NewAPISource checks opts and returns a source. The token file is read at
// each request (so rotation works), not here.
func NewAPISource(opts APIOptions) (*APISource, error) {
	u, err := url.Parse(opts.URL)
	if err != nil {
		return nil, fmt.Errorf("directory api url: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("directory api url %q: want http(s)://host/path", u.Redacted())
	}
	if opts.TokenFile == "" {
		return nil, errors.New("directory api: token file is required")
	}
	for name, d := range map[string]time.Duration{
		"poll interval": opts.PollInterval, "timeout": opts.Timeout,
		"min backoff": opts.MinBackoff, "max backoff": opts.MaxBackoff,
	} {
		if d < 0 {
			return nil, fmt.Errorf("directory api: negative %s %s", name, d)
		}
	}
	if opts.MaxBytes < 0 {
		return nil, fmt.Errorf("directory api: negative max bytes %d", opts.MaxBytes)
	}
	s := &APISource{
		url:        u.String(),
		shown:      u.Redacted(),
		tokenFile:  opts.TokenFile,
		poll:       cmpOr(opts.PollInterval, DefaultPollInterval),
		timeout:    cmpOr(opts.Timeout, DefaultTimeout),
		maxBytes:   cmpOr(opts.MaxBytes, DefaultAPIMaxBytes),
		minBackoff: cmpOr(opts.MinBackoff, DefaultMinBackoff),
		maxBackoff: cmpOr(opts.MaxBackoff, DefaultMaxBackoff),
		client:     opts.Client,
	}
	if s.minBackoff > s.maxBackoff {
		return nil, fmt.Errorf("directory api: min backoff %s above max backoff %s", s.minBackoff, s.maxBackoff)
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	s.log = orDiscard(opts.Log).With("component", "dirsync", "origin", OriginAPI, "url", s.shown)
	if u.Scheme == "http" {
		s.log.Warn("directory api url is not https: the bearer token travels in clear")
	}
	return s, nil
}

// Origin returns OriginAPI.
func (s *APISource) Origin() string { return OriginAPI }

// URL returns the configured URL with any password redacted.
func (s *APISource) URL() string { return s.shown }

// Fetch does one unconditional GET and returns the body.
func (s *APISource) Fetch(ctx context.Context) ([]byte, error) {
	res, err := s.get(ctx, "")
	if err != nil {
		return nil, err
	}
	return res.body, nil
}

// apiState is what one Run call remembers; only Run's goroutine touches it.
type apiState struct {
	etag string            // ETag of the last accepted document
	last [sha256.Size]byte // hash of the last accepted body
	have bool
	body []byte // the last accepted body
	// rejected: the last body fetched was refused. A later 304 means the
	// upstream is back at the accepted document, which is then offered again
	// so the daemon can drop the rejection from its status.
	rejected bool
}

// Run polls until ctx is done: the first request at once, then every
// PollInterval after a success, or after a backoff delay after a failure
// (fetch error, or a document apply rejected).
func (s *APISource) Run(ctx context.Context, apply Apply, report func(error)) error {
	report = orNoReport(report)
	var st apiState
	failures := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		rejected, err := s.once(ctx, apply, &st)
		if ctx.Err() != nil {
			return nil
		}
		report(err) // nil: the upstream answers again
		if err == nil && rejected == nil {
			failures = 0
			timer.Reset(s.poll)
			continue
		}
		failures++
		wait := backoff(failures, s.minBackoff, s.maxBackoff, rand.Int64N)
		s.log.Debug("directory api retry", "failures", failures, "wait", wait)
		timer.Reset(wait)
	}
}

// once does one conditional GET and applies a new body. It returns apply's
// rejection and the fetch error separately: only the latter is reported.
func (s *APISource) once(ctx context.Context, apply Apply, st *apiState) (rejected, err error) {
	res, err := s.get(ctx, st.etag)
	if err != nil {
		return nil, err
	}
	if res.notModified {
		if st.rejected && st.have {
			st.rejected = false
			return apply(ctx, st.body, OriginAPI), nil
		}
		return nil, nil
	}
	sum := sha256.Sum256(res.body)
	if st.have && sum == st.last {
		st.etag = res.etag // same document under a new tag
		if st.rejected {
			st.rejected = false
			return apply(ctx, st.body, OriginAPI), nil
		}
		return nil, nil
	}
	if err := apply(ctx, res.body, OriginAPI); err != nil {
		// Keep the old ETag: the next request must fetch the body again.
		s.log.Debug("directory api document rejected; retrying with backoff", "error", err)
		st.rejected = true
		return err, nil
	}
	st.etag, st.last, st.have, st.body, st.rejected = res.etag, sum, true, res.body, false
	s.log.Debug("directory api document applied", "bytes", len(res.body), "etag", res.etag)
	return nil, nil
}

// backoff is the delay before retry number failures (1 = first): full jitter,
// uniform in [0, min(hi, lo·2^(failures-1))]. randN(n) returns [0, n).
func backoff(failures int, lo, hi time.Duration, randN func(n int64) int64) time.Duration {
	ceil := min(lo, hi)
	for i := 1; i < failures && ceil < hi; i++ {
		if ceil > hi/2 {
			ceil = hi
			break
		}
		ceil *= 2
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(randN(int64(ceil) + 1))
}
