// Package routing is deskgate's SIP side: it owns the transports
// (UDP/TCP listeners, connection caps), the sipgo stack, the dispatch of
// every request (middleware.go: validate, budget, route by method), and
// the handlers that tie the state-owning subpackages together: REGISTER
// (registrar.go), INVITE classification and hand-off to routing/fork,
// Route-token in-dialog relay needing no per-call memory, the trunk, the
// caller ID policy, feature codes, pickup, check-sync, call history, the
// BLF call table, and SUBSCRIBE handling plus NOTIFY rendering for the
// handset keys and shared call appearance. A handler returns a Status
// (code, reason, extra headers; zero when it already answered or relayed)
// and handle in middleware.go is the one place that writes it.
//
// State lives in the subpackage that owns it, each behind its own lock:
// routing/registrar (bindings table, REGISTER parsing, the 200),
// routing/notifier (served subscriptions and the NOTIFY state machine;
// routing implements its Transport: notify.go), routing/digest (digest
// auth, nonces, throttle), routing/sca (shared-line appearances) and
// routing/presence (DND / away; built by the daemon and passed in
// Options.Presence). Pure decisions: routing/ringplan, routing/events.
// It imports those and daemon/directory and daemon/store; it must not
// import daemon, provisioning or cmd.
package routing

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
	"deskgate/routing/digest"
	"deskgate/routing/fork"
	"deskgate/routing/notifier"
	"deskgate/routing/presence"
	"deskgate/routing/registrar"
	"deskgate/routing/sca"
)

// udpMTU is what sipgo's sip.UDPMTUSize is raised to. sipgo refuses to send
// a UDP message larger than UDPMTUSize-200 (1300 bytes by default, docs/libraries.md
// P4) and never switches to TCP; a video phone's INVITE plus our Via and
// Record-Route passes that. IP fragmentation handles up to 3896 bytes fine
// on a LAN, which is where deskgate's phones are.
const udpMTU = 4096

// TrunkOptions describe the optional upstream SIP trunk.
type TrunkOptions struct {
	Address   string         // host:port; "" = no trunk
	Transport string         // "udp" (default) or "tcp"
	Trusted   []netip.Prefix // sources whose INVITEs need no digest auth
	Username  string         // optional registration to the trunk
	Password  string
}

// Options configure a Server. Domain, Listen, Directory, Store and
// Presence are required; zero tuning values take the defaults noted.
type Options struct {
	Domain             string   // SIP domain and digest realm
	Listen             []string // "udp:127.0.0.1:5060", "tcp:[::1]:5060"; port 0 = any (see Addrs)
	Advertise          string   // host or host:port for Via/Record-Route; "" = the listen address
	RegisterMinExpires int      // default 60
	RegisterMaxExpires int      // default 3600
	AuthAlgorithms     []string // challenged algorithms, MD5 always first; default MD5 only
	Trunk              TrunkOptions

	Directory func() *directory.Snapshot // current snapshot (an atomic load)
	Store     *store.DB
	Log       *slog.Logger

	// Presence is the DND / away state calls consult and feature codes
	// change. The daemon builds it and shares it with the control API, so
	// its change feed sees every change, whoever makes it.
	Presence *presence.Service
	// FeatureCodes gives the presence feature codes in force, read per
	// call so a reload applies them live; nil or empty fields take the
	// defaults *78 *79 *45 *46.
	FeatureCodes func() presence.Codes

	NonceTTL      time.Duration   // nonce lifetime before stale=true; default 5m
	Throttle      ThrottleOptions // failed-auth throttling per source and username, per-source ceiling
	Subscribe     SubscribeLimit  // SUBSCRIBE rate per source IP
	Flood         FloodOptions    // request budget per source IP, live transaction cap
	TCP           TCPLimits       // inbound TCP connection caps and timeouts
	SweepInterval time.Duration   // expired-binding sweep; default 30s
	DrainTimeout  time.Duration   // the whole stop: handlers, then senders; default 2.5s
	Now           func() time.Time

	// MaxLiveBranches bounds the branches of calls being forked at once;
	// a call beyond it gets 503 + Retry-After. 0 = DefaultMaxLiveBranches.
	MaxLiveBranches int
	// MaxSetupCalls bounds the calls admitted but not yet ringing; a call
	// beyond it gets 503 + Retry-After. 0 = DefaultMaxSetupCalls.
	MaxSetupCalls int
}

// Server is the SIP registrar and proxy. Create it with New and call Run
// once; the data methods (Registrations, Calls, Stats, Addrs) are safe to
// call at any time from any goroutine.
type Server struct {
	opts     Options
	log      *slog.Logger
	now      func() time.Time
	specs    []listenSpec
	auth     *digest.Authenticator
	throttle *digest.Throttle
	bindings *registrar.Table
	calls    *callTable
	presence *presence.Service
	routeKey []byte
	trusted  []netip.Prefix
	hosts    hostAddrs          // addresses of trunk.address and fallback hosts
	subs     *notifier.Notifier // subscriptions we notify (key LEDs)
	lines    *lineTable         // BLF state of extensions
	sca      *sca.Table         // shared call appearances of department and executive lines
	scaIn    scaIncoming        // incoming shared-line calls not ringing a member yet
	subLimit *rateLimiter       // SUBSCRIBE flood throttle
	senders  inflight           // NOTIFY and check-sync senders
	junk     *junkLog           // sampled log of unparsable messages

	budgets    *budgets      // per-source request budget (flood.go)
	floodLog   *floodLog     // rate-limited log of refusals under load
	liveTx     atomic.Int64  // server transactions alive
	livePeak   atomic.Int64  // highest liveTx since the last sweep
	overBudget atomic.Uint64 // requests refused or dropped over a source's budget
	overCap    atomic.Uint64 // requests refused at the transaction cap
	retrans    *retransCache // answers of ended transactions (retrans.go)
	// txEnded counts one off liveTx when a tracked transaction ends (made
	// once: track's closure was an allocation per request).
	txEnded sip.FnTxTerminate

	// Owned by loadLoop (sweepLoad).
	loadHeavy    bool
	loadRefused  uint64
	freeOSMemory func() // debug.FreeOSMemory; tests count calls

	// Inbound TCP connections: caps, reaping, tombstones.
	tcp *connGuard
	// DNS for sipgo; nil = the system's (tests watch lookups with it).
	resolver *net.Resolver
	// Branches and calls in set-up being forked (overload shedding).
	branches *branchBudget
	inSetup  *setupGate

	// Set by Run before any request is handled.
	ua     *sipgo.UserAgent
	srv    *sipgo.Server
	cli    *sipgo.Client
	fork   *fork.Executor
	me     *self
	ctx    context.Context
	parser *sip.Parser  // the UDP pre-filter's (prefilter.go); read-only, shared by readers
	udp    []*udpSocket // UDP listeners the pre-filter answers through
	active inflight     // request handlers in progress
	up     atomic.Bool  // set once the fields above are, by Run's setup

	mu       sync.Mutex
	bound    []listenSpec
	trunkReg trunkRegState
}

// New checks opts and prepares a Server; nothing is bound until Run.
func New(opts Options) (*Server, error) {
	if err := checkOptions(&opts); err != nil {
		return nil, err
	}
	s := &Server{opts: opts, log: opts.Log.With("component", "sip"), now: opts.Now}
	for _, l := range opts.Listen {
		spec, err := parseListen(l)
		if err != nil {
			return nil, err
		}
		s.specs = append(s.specs, spec)
	}
	var err error
	s.auth, err = digest.New(opts.Domain, opts.AuthAlgorithms, opts.NonceTTL, s.secret)
	if err != nil {
		return nil, err
	}
	s.throttle = digest.NewThrottle(opts.Throttle)
	s.junk = newJunkLog(opts.Now)
	s.branches = newBranchBudget(opts.MaxLiveBranches)
	s.inSetup = newSetupGate(opts.MaxSetupCalls)
	s.bindings = registrar.New(opts.Store)
	s.calls = newCallTable()
	s.tcp = newConnGuard(opts.TCP, s.log, func(remote string) bool { return s.bindings.OnConn(remote, s.now()) })
	s.subs = notifier.New(notifier.Options{Transport: notifyTransport{s}, Store: opts.Store, Log: s.log,
		Go: s.senders.start})
	s.lines = newLineTable()
	s.sca = sca.New()
	s.subLimit = newRateLimiter(opts.Subscribe)
	s.budgets = newBudgets(opts.Flood)
	s.txEnded = func(string, error) { s.liveTx.Add(-1) }
	s.floodLog = &floodLog{log: s.log}
	s.retrans = newRetransCache(s.now())
	s.freeOSMemory = debug.FreeOSMemory
	s.presence = opts.Presence
	s.trusted = opts.Trunk.Trusted
	s.routeKey, err = routeKey(opts.Store)
	if err != nil {
		return nil, err
	}
	if sip.UDPMTUSize < udpMTU {
		sip.UDPMTUSize = udpMTU // package global in sipgo; written once, before any transport runs
	}
	setTransactionTimers()
	setTransactionTimers()
	return s, nil
}

func checkOptions(o *Options) error {
	var errs []error
	if strings.TrimSpace(o.Domain) == "" {
		errs = append(errs, errors.New("domain is required"))
	}
	if len(o.Listen) == 0 {
		errs = append(errs, errors.New("at least one listen address is required"))
	}
	if o.Directory == nil {
		errs = append(errs, errors.New("directory source is required"))
	}
	if o.Store == nil {
		errs = append(errs, errors.New("store is required"))
	}
	if o.Presence == nil {
		errs = append(errs, errors.New("presence service is required"))
	}
	if t := strings.ToLower(o.Trunk.Transport); t != "" && t != "udp" && t != "tcp" {
		errs = append(errs, fmt.Errorf("trunk transport %q not supported (udp, tcp)", o.Trunk.Transport))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("routing options: %w", err)
	}
	o.Domain = strings.ToLower(strings.TrimSpace(o.Domain))
	if o.FeatureCodes == nil {
		o.FeatureCodes = func() presence.Codes { return presence.Codes{} }
	}
	if o.RegisterMinExpires <= 0 {
		o.RegisterMinExpires = 60
	}
	if o.RegisterMaxExpires <= 0 {
		o.RegisterMaxExpires = 3600
	}
	o.RegisterMaxExpires = max(o.RegisterMaxExpires, o.RegisterMinExpires)
	if o.NonceTTL <= 0 {
		o.NonceTTL = 5 * time.Minute
	}
	if o.SweepInterval <= 0 {
		o.SweepInterval = 30 * time.Second
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 2500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// secret is the authenticator's lookup: digest username = extension.
func (s *Server) secret(username string) (string, string, bool, error) {
	snap := s.opts.Directory()
	if snap == nil {
		return "", "", false, nil
	}
	e, ok := snap.ByExtension(username)
	if !ok || e.Kind != directory.KindUser || e.User == nil {
		// Read the store anyway so unknown users cost what known ones do.
		_, _, _ = s.opts.Store.LookupCredential(routeKeyUser)
		return "", "", false, nil
	}
	c, err := s.opts.Store.Credential(e.User.ID, e.User.Extension)
	if err != nil {
		return "", "", false, err
	}
	return e.User.ID, c.Password, true, nil
}

// Addrs returns the bound listen addresses in the Listen format
// ("udp:127.0.0.1:40312"), with the real ports; valid once Run called ready.
func (s *Server) Addrs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.bound))
	for i, b := range s.bound {
		out[i] = b.String()
	}
	return out
}

// Registration is one live binding, for deskgatectl registrations.
type Registration struct {
	User      string    `json:"user"`
	Contact   string    `json:"contact"`
	Expires   time.Time `json:"expires"`
	Source    string    `json:"source"`
	Transport string    `json:"transport"`
	UserAgent string    `json:"user_agent"`
	// InstanceID is the binding's +sip.instance; with the User-Agent it tells
	// which phone the binding is (directory.MACIn).
	InstanceID string `json:"instance_id,omitempty"`
}

// Registrations lists live bindings sorted by user and contact.
func (s *Server) Registrations() []Registration {
	all := s.bindings.All(s.now())
	out := make([]Registration, len(all))
	for i, b := range all {
		out[i] = Registration{User: b.User, Contact: b.Contact, Expires: b.Expires,
			Source: b.Source, Transport: b.Transport, UserAgent: b.UserAgent, InstanceID: b.InstanceID}
	}
	return out
}

// Stats is the registrar's part of deskgatectl status.
type Stats struct {
	Registrations    int  `json:"registrations"`     // live bindings
	Appearances      int  `json:"appearances"`       // of those, line appearances (shared department / executive lines)
	Users            int  `json:"users"`             // users with at least one binding (line appearances not counted)
	FailedAuthBlocks int  `json:"auth_blocks_count"` // sources and source+user pairs refused after failed auth
	Calls            int  `json:"calls"`             // calls in progress
	TrunkRegistered  bool `json:"trunk_registered"`  // outbound registration to the trunk is up
	Subscriptions    int  `json:"subscriptions"`     // key subscriptions served (DND, BLF, away)
	// Load: server transactions alive now, and requests refused since
	// start over a source's budget (503 or dropped) or at the cap.
	Transactions int64  `json:"transactions"`
	OverBudget   uint64 `json:"over_budget"`
	OverCap      uint64 `json:"over_transaction_cap"`
	// What answered transactions left behind: fork branch INVITE
	// transactions alive, and the compact records that answer
	// retransmissions once a transaction has ended (retrans.go, fork).
	BranchTransactions int `json:"branch_transactions"`
	Records            int `json:"retransmission_records"`
}

// Stats returns current counters.
func (s *Server) Stats() Stats {
	now := s.now()
	users := map[string]bool{}
	all := s.bindings.All(now)
	appearances := 0
	for _, b := range all {
		if isAppearance(b.User) {
			appearances++
		} else {
			users[b.User] = true
		}
	}
	s.mu.Lock()
	trunkUp := s.trunkReg.ok
	s.mu.Unlock()
	var branchTx, records int
	// s.fork is written by setup; the atomic up orders that write before this read.
	if s.up.Load() && s.fork != nil {
		branchTx, records = s.fork.LiveTransactions(), s.fork.Retained()
	}
	if s.retrans != nil {
		records += s.retrans.records(now)
	}
	return Stats{
		Registrations:    len(all),
		Appearances:      appearances,
		Users:            len(users),
		FailedAuthBlocks: len(s.throttle.Blocks(now)),
		Calls:            s.calls.count(),
		TrunkRegistered:  trunkUp,
		Subscriptions:    s.subs.Count(),
		Transactions:     s.liveTx.Load(),
		OverBudget:       s.overBudget.Load(),
		OverCap:          s.overCap.Load(),

		BranchTransactions: branchTx,
		Records:            records,
	}
}

// Calls lists calls in progress, oldest first.
func (s *Server) Calls() []Call { return s.calls.list() }
