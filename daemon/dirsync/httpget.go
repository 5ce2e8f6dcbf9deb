package dirsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode"
)

const (
	userAgent     = "deskgated"
	maxTokenBytes = 16 << 10
	errBodyBytes  = 256 // how much of an error response is shown
)

// response is one successful GET: a new body, or "not modified".
type response struct {
	body        []byte
	etag        string
	notModified bool
}

// get requests the document, conditionally when etag is set. Errors name the
// URL (never the token) and the status.
func (s *APISource) get(ctx context.Context, etag string) (response, error) {
	token, err := readToken(s.tokenFile)
	if err != nil {
		return response{}, fmt.Errorf("get %s: %w", s.shown, err)
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, s.url, nil)
	if err != nil {
		return response{}, fmt.Errorf("get %s: %w", s.shown, err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	res, err := s.client.Do(req)
	if err != nil {
		return response{}, s.requestErr(rctx, "get", err)
	}
	defer res.Body.Close()
	switch {
	case res.StatusCode == http.StatusNotModified && etag != "":
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, errBodyBytes)) // lets the connection be reused
		return response{notModified: true}, nil
	case res.StatusCode != http.StatusOK:
		return response{}, fmt.Errorf("get %s: status %s%s", s.shown, res.Status, bodyExcerpt(res.Body))
	}
	if res.ContentLength > s.maxBytes {
		return response{}, fmt.Errorf("get %s: response larger than %d bytes", s.shown, s.maxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, s.maxBytes+1))
	if err != nil {
		return response{}, s.requestErr(rctx, "read response of", err)
	}
	if int64(len(body)) > s.maxBytes {
		return response{}, fmt.Errorf("get %s: response larger than %d bytes", s.shown, s.maxBytes)
	}
	return response{body: body, etag: res.Header.Get("ETag")}, nil
}

// requestErr words a transport error, naming a timeout as such. The
// *url.Error layer is dropped: it repeats the unredacted URL.
func (s *APISource) requestErr(rctx context.Context, what string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(rctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: no complete response within %s: %w", what, s.shown, s.timeout, err)
	}
	return fmt.Errorf("%s %s: %w", what, s.shown, err)
}

// bodyExcerpt returns the start of an error response, one line, for operators.
func bodyExcerpt(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, errBodyBytes))
	text := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "?")), " ")
	text = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return '?'
	}, text)
	if text == "" {
		return ""
	}
	return fmt.Sprintf(" (body: %q)", text)
}

// readToken reads the bearer token, refusing a file others may read (docs/spec.md:
// mode 0600) and a token that cannot go into a header.
func readToken(path string) (string, error) {
	f, fi, err := openRegular(path, "token file")
	if err != nil {
		return "", err
	}
	defer f.Close()
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", fmt.Errorf("token file %s has mode %04o: it must not be readable by group or others (chmod 0600)", path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxTokenBytes+1))
	if err != nil {
		return "", fmt.Errorf("read token file %s: %w", path, err)
	}
	if len(b) > maxTokenBytes {
		return "", fmt.Errorf("token file %s is larger than %d bytes", path, maxTokenBytes)
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return "", fmt.Errorf("token file %s is empty", path)
	}
	for i := 0; i < len(token); i++ {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			// Never echo the token, not even part of it.
			return "", fmt.Errorf("token file %s: the token has a space, control or non-ASCII byte at offset %d", path, i)
		}
	}
	return token, nil
}
