package provisioning

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"deskgate/daemon/store"
)

// shutdownGrace bounds a graceful stop; then connections are closed.
const shutdownGrace = 2 * time.Second

// Server is the HTTP provisioning server. Create it with New.
type Server struct {
	opts    Options
	sip     sipServer
	log     *slog.Logger
	limiter *limiter
	logs    *logSampler
	handler http.Handler
	// bindings holds where each phone's secrets may go (secrets.go).
	bindings secretBindings

	mu   sync.Mutex
	addr net.Addr
}

// New checks opts and returns a server; Run binds and serves.
func New(opts Options) (*Server, error) {
	sip, err := opts.validate()
	if err != nil {
		return nil, fmt.Errorf("provisioning options: %w", err)
	}
	opts.defaults()
	s := &Server{
		opts:    opts,
		sip:     sip,
		log:     opts.Log.With("component", "provisioning"),
		limiter: newLimiter(opts.RateLimit, opts.RateBurst, opts.MaxSources),
		logs:    newLogSampler(opts.MaxSources),
	}
	if opts.Store != nil {
		s.bindings = opts.Store
	} else {
		s.bindings = &memBindings{m: make(map[string]store.SecretBinding)}
	}
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s, nil
}

// Handler is the server's request handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Addr is the bound address once Run has bound, else nil.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Run binds opts.Listen, calls ready, and serves until ctx is done; then it
// shuts down gracefully within 2 s and returns nil.
func (s *Server) Run(ctx context.Context, ready func()) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.opts.Listen)
	if err != nil {
		return fmt.Errorf("listen provisioning %s: %w", s.opts.Listen, err)
	}
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	s.log.Info("provisioning server listening", "addr", ln.Addr().String())
	if ready != nil {
		ready()
	}
	select {
	case err := <-served:
		return fmt.Errorf("serve provisioning: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("provisioning shutdown not graceful", "error", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve provisioning: %w", err)
	}
	return nil
}
