package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"deskgate/daemon/controlapi"
	"deskgate/daemon/directory"
	"deskgate/routing"
)

// listenControl binds the control socket (mode 0660). A stale socket file
// left by a crash is replaced; a live one means another daemon runs.
func (d *Daemon) listenControl() (net.Listener, error) {
	path := d.cfg.Load().Control.Socket
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create control socket dir: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s is in use: is another deskgated running?", path)
	}
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on control socket: %w", err)
	}
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("chmod control socket: %w", err)
	}
	return ln, nil
}

func (d *Daemon) serveControl(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{Handler: d.controlMux(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	defer os.Remove(ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("control api: %w", err)
	}
	return nil
}

// handler answers one control request with a value to encode or an error.
type handler func(r *http.Request) (any, error)

// httpError carries a status code for the control API.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, f string, a ...any) error { return &httpError{code, fmt.Sprintf(f, a...)} }

func (d *Daemon) controlMux() *http.ServeMux {
	m := http.NewServeMux()
	route := func(pattern string, h handler) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) { serveJSON(w, r, h) })
	}
	route("GET "+controlapi.PathStatus, d.handleStatus)
	route("GET "+controlapi.PathRegistrations, d.handleRegistrations)
	route("GET "+controlapi.PathCalls, d.handleCalls)
	route("GET "+controlapi.PathPhones, d.handlePhones)
	route("POST "+controlapi.PathReload, d.handleReload)
	route("POST "+controlapi.PathCheck, d.handleCheck)
	route("GET "+controlapi.PathDND+"{user}", d.handleGetPresence)
	route("POST "+controlapi.PathDND+"{user}", d.handleSetDND)
	route("GET "+controlapi.PathAway+"{user}", d.handleGetPresence)
	route("POST "+controlapi.PathAway+"{user}", d.handleSetAway)
	route("GET "+controlapi.PathHistory+"{user}", d.handleHistory)
	route("GET "+controlapi.PathCredentials+"{user}", d.handleCredentials)
	route("POST "+controlapi.PathCredentials+"{user}", d.handleCredentials)
	route("GET "+controlapi.PathBlocks, d.handleBlocks)
	route("POST "+controlapi.PathUnblock+"{target}", d.handleUnblock)
	route("POST "+controlapi.PathRearm+"{mac}", d.handleRearm)
	registerDebug(m)
	return m
}

func serveJSON(w http.ResponseWriter, r *http.Request, h handler) {
	v, err := h(r)
	w.Header().Set("Content-Type", "application/json")
	if err != nil {
		code := http.StatusInternalServerError
		var he *httpError
		if errors.As(err, &he) {
			code = he.code
		}
		w.WriteHeader(code)
		v = controlapi.Error{Error: err.Error()}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func (d *Daemon) handleStatus(*http.Request) (any, error) { return d.statusValue(), nil }

func (d *Daemon) statusValue() controlapi.Status {
	cfg := d.cfg.Load()
	ds := d.dir.status()
	st := d.sip.Stats()
	return controlapi.Status{
		Ready: d.ready.Load(), Version: d.opts.Version, Site: cfg.Site, Domain: cfg.Domain, Started: d.started,
		Directory: controlapi.DirectoryStatus{Version: ds.Version, Source: ds.Source, Loaded: ds.Loaded,
			Error: ds.Err, ErrorAt: ds.ErrAt},
		Registrations: st.Registrations,
		Blocks:        d.blockList(),
		Calls:         st.Calls,
		Users:         len(ds.Snapshot.Users()),
		Departments:   len(ds.Snapshot.Departments()),
		Phones:        len(ds.Snapshot.Phones()),
		Restart:       d.restartRequired(),
		Warnings:      d.warningList(),

		ProvisioningAlerts: d.provisioningAlerts(),

		Transactions: int(st.Transactions), OverBudget: st.OverBudget, OverCap: st.OverCap,
		BranchTransactions: st.BranchTransactions, Records: st.Records,
	}
}

// statusLine is the one-line summary sent as STATUS= (docs/spec.md §8).
func (d *Daemon) statusLine(ds dirStatus) string {
	v := ds.Version
	if v == "" {
		v = "unversioned"
	}
	st := d.sip.Stats()
	s := fmt.Sprintf("%d phones registered, directory %s from %s", st.Registrations-st.Appearances, v, ds.Source)
	if ds.Err != "" {
		s += "; last error: " + ds.Err
	}
	return s
}

func (d *Daemon) handleRegistrations(*http.Request) (any, error) {
	regs := d.sip.Registrations()
	out := make([]controlapi.Registration, 0, len(regs))
	for _, r := range regs {
		out = append(out, controlapi.Registration{User: r.User, Contact: r.Contact, Expires: r.Expires.UTC(),
			Source: r.Source, Transport: r.Transport, UserAgent: r.UserAgent})
	}
	return out, nil
}

func (d *Daemon) handleBlocks(*http.Request) (any, error) { return d.blockList(), nil }

// blockList is the failed-authentication blocks in force, never nil.
func (d *Daemon) blockList() []controlapi.Block {
	bs := d.sip.Blocks()
	out := make([]controlapi.Block, 0, len(bs))
	for _, b := range bs {
		out = append(out, controlapi.Block{Source: b.Source, User: b.User, Username: b.Username,
			Failures: b.Failures, Until: b.Until.UTC()})
	}
	return out
}

// handleUnblock lifts the blocks of a source address or of a user.
func (d *Daemon) handleUnblock(r *http.Request) (any, error) {
	target := r.PathValue("target")
	if strings.TrimSpace(target) == "" {
		return nil, errorf(http.StatusBadRequest, "unblock: a source address or a user is required")
	}
	n, err := d.sip.Unblock(target)
	if errors.Is(err, routing.ErrNoBlock) {
		return nil, errorf(http.StatusNotFound, "%v", err)
	}
	if err != nil {
		return nil, err
	}
	return controlapi.Unblocked{Target: target, Lifted: n}, nil
}

func (d *Daemon) handleCalls(*http.Request) (any, error) {
	calls := d.sip.Calls()
	out := make([]controlapi.Call, 0, len(calls))
	for _, c := range calls {
		out = append(out, controlapi.Call{CallID: c.CallID, From: c.From, To: c.To, State: c.State,
			Started: c.Started.UTC()})
	}
	return out, nil
}

func (d *Daemon) handleReload(r *http.Request) (any, error) {
	if err := d.requestReload(r.Context()); err != nil {
		return nil, err
	}
	return d.statusValue(), nil
}

// handleCheck validates a document with the same Parse the daemon uses.
func (d *Daemon) handleCheck(r *http.Request) (any, error) {
	raw, err := io.ReadAll(io.LimitReader(r.Body, 32<<20))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "read document: %v", err)
	}
	return checkDocument(raw), nil
}

func checkDocument(raw []byte) controlapi.CheckResult {
	snap, err := directory.Parse(raw)
	if err == nil {
		return controlapi.CheckResult{OK: true, Version: snap.Version(), Problems: []string{}}
	}
	return controlapi.CheckResult{Problems: problemLines(err)}
}

// problemLines lists a parse error's problems one a line.
func problemLines(err error) []string {
	var ve *directory.ValidationError
	if errors.As(err, &ve) {
		out := make([]string, 0, len(ve.Problems))
		for _, p := range ve.Problems {
			out = append(out, p.String())
		}
		return out
	}
	return strings.Split(strings.TrimSpace(err.Error()), "\n")
}

func (d *Daemon) warningList() []string {
	d.warnMu.Lock()
	defer d.warnMu.Unlock()
	return append([]string(nil), d.warnings...)
}
