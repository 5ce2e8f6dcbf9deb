package provisioning

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// result is what a request came to, for its log line.
type result struct {
	status  int
	mac     string
	model   string
	secrets string // what the secret policy did: secretsSent, secretsBound, secretsWithheld or ""
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	src := remoteIP(r.RemoteAddr)
	res := s.handle(w, r, src, now)
	// One line per request, within the source's log budget; server errors
	// are always logged. Nothing the client sent beyond the path (no
	// User-Agent, no credentials) is written.
	logged, suppressed := s.logs.allow(src, now)
	if !logged && res.status < 500 {
		return
	}
	level := slog.LevelInfo
	if res.status >= 500 {
		level = slog.LevelError
	} else if res.status == http.StatusUnauthorized || res.status == http.StatusForbidden {
		level = slog.LevelWarn
	}
	path := r.URL.Path
	if len(path) > 128 {
		path = path[:128]
	}
	attrs := []slog.Attr{slog.String("mac", res.mac), slog.String("addr", src.String()),
		slog.Int("status", res.status), slog.String("path", path)}
	if res.secrets != "" {
		attrs = append(attrs, slog.String("secrets", res.secrets))
	}
	if suppressed > 0 {
		attrs = append(attrs, slog.Int("suppressed", suppressed))
	}
	s.log.LogAttrs(r.Context(), level, "provisioning request", attrs...)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request, src netip.Addr, now time.Time) result {
	if !s.limiter.allow(src, now) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many requests", http.StatusTooManyRequests)
		return result{status: http.StatusTooManyRequests}
	}
	if s.opts.Username != "" && !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="deskgate provisioning", charset="UTF-8"`)
		http.Error(w, "authorization required", http.StatusUnauthorized)
		return result{status: http.StatusUnauthorized}
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return result{status: http.StatusMethodNotAllowed}
	}
	req, ok := parsePath(r.URL.Path)
	if !ok {
		return notFound(w, "")
	}
	ua := parseUserAgent(r.UserAgent())
	if !req.Kind.perPhone() {
		return s.serveCommon(w, r, req, ua, src)
	}
	// Checked before looking the MAC up, so the answer does not tell
	// whether the directory knows it.
	if ua.MAC != "" && ua.MAC != req.MAC {
		http.Error(w, "user agent does not match the file", http.StatusForbidden)
		return result{status: http.StatusForbidden, mac: req.MAC}
	}
	return s.servePhone(w, r, req, ua, src)
}

func (s *Server) servePhone(w http.ResponseWriter, r *http.Request, req fileRequest, ua uaInfo, src netip.Addr) result {
	snap := s.opts.Directory()
	if snap == nil {
		return notFound(w, req.MAC)
	}
	p, ok := snap.Phone(req.MAC)
	if !ok {
		return notFound(w, req.MAC)
	}
	vname := directory.Vendor(p.Model)
	v := vendorFor(vname)
	opts, _ := layoutOptionsFor(p.Model, s.sip.Domain)
	lay, ok := Layout(snap, req.MAC, opts)
	if v == nil || !ok || !v.serves(req.Kind) {
		return notFound(w, req.MAC)
	}
	for _, warning := range lay.Warnings { // one line per key left out, naming it
		s.log.Warn("phone key not placed", "mac", lay.MAC, "model", lay.Model, "user", lay.User,
			"key", warning)
	}
	pw, err := s.opts.Credentials(lay.User, lay.Extension)
	if err != nil {
		s.log.Error("read credential", "mac", lay.MAC, "user", lay.User, "error", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return result{status: http.StatusInternalServerError, mac: req.MAC}
	}
	f, ok := v.phoneFile(req, renderInput{Layout: lay, Password: pw, SIP: s.sip,
		BaseURL: s.opts.BaseURL, VoicemailNumber: s.opts.VoicemailNumber})
	if !ok {
		return notFound(w, req.MAC)
	}
	res := result{status: http.StatusOK, mac: req.MAC, model: p.Model}
	// Whether a file carries the secret is read off the file itself, so no
	// renderer can add a secret-bearing file the policy does not see. An
	// empty password is treated as a secret too (fail closed).
	if pw == "" || bytes.Contains(f.body, []byte(pw)) {
		d, err := s.checkSecrets(req.MAC, src)
		if err != nil {
			s.log.Error("provisioning secret binding", "mac", req.MAC, "error", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return result{status: http.StatusInternalServerError, mac: req.MAC}
		}
		if !d.give {
			res = notFound(w, req.MAC)
			res.secrets = d.event
			return res
		}
		res.secrets = d.event
		s.seePhone(req.MAC, vname, ua, p.Model, src)
	} else if s.fromBoundAddress(req.MAC, src) {
		s.seePhone(req.MAC, vname, ua, p.Model, src)
	}
	serveFile(w, r, f)
	return res
}

// serveCommon serves a model-wide file, only to a phone whose User-Agent
// names a MAC the directory gives to a phone of that vendor.
func (s *Server) serveCommon(w http.ResponseWriter, r *http.Request, req fileRequest, ua uaInfo, src netip.Addr) result {
	snap := s.opts.Directory()
	if ua.MAC == "" || snap == nil {
		return notFound(w, ua.MAC)
	}
	p, ok := snap.Phone(ua.MAC)
	vname := req.Kind.commonVendor()
	if !ok || directory.Vendor(p.Model) != vname {
		return notFound(w, ua.MAC)
	}
	f, ok := vendorFor(vname).commonFile(req, commonInput{SIP: s.sip, BaseURL: s.opts.BaseURL})
	if !ok {
		return notFound(w, ua.MAC)
	}
	if s.fromBoundAddress(ua.MAC, src) {
		s.seePhone(ua.MAC, vname, ua, p.Model, src)
	}
	serveFile(w, r, f)
	return result{status: http.StatusOK, mac: ua.MAC, model: p.Model}
}

// seePhone records the request in the inventory; a failure is logged only.
func (s *Server) seePhone(mac, vname string, ua uaInfo, model string, src netip.Addr) {
	if s.opts.Store == nil {
		return
	}
	if ua.Vendor == vname && ua.Model != "" {
		model = ua.Model
	}
	err := s.opts.Store.SeePhone(store.InventoryPhone{MAC: mac, Vendor: vname, Model: model,
		Address: src.String(), Source: "provisioning", LastSeen: s.opts.Now().UTC()})
	if err != nil {
		s.log.Error("record phone", "mac", mac, "error", err)
	}
}

// notFound is the one 404 answer: the same for an unknown MAC, a file the
// phone's vendor does not have and a name no vendor uses.
func notFound(w http.ResponseWriter, mac string) result {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusNotFound)
	_, _ = io.WriteString(w, "404 page not found\n")
	return result{status: http.StatusNotFound, mac: mac}
}

func serveFile(w http.ResponseWriter, r *http.Request, f file) {
	h := w.Header()
	h.Set("Content-Type", f.contentType)
	h.Set("Content-Length", strconv.Itoa(len(f.body)))
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(f.body)
	}
}

// authorized checks HTTP basic credentials in constant time (hashing first
// so neither length leaks).
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	wu, wp := sha256.Sum256([]byte(s.opts.Username)), sha256.Sum256([]byte(s.opts.Password))
	gu, gp := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(pass))
	match := subtle.ConstantTimeCompare(wu[:], gu[:]) & subtle.ConstantTimeCompare(wp[:], gp[:])
	return ok && match == 1
}

// remoteIP is the request's source address (zero if unparsable).
func remoteIP(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
