package provisioning

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// Options configures the provisioning server.
type Options struct {
	Listen    string // ip:port to bind; port 0 picks a free one (tests)
	BaseURL   string // provisioning URL phones are told to keep using; "" leaves theirs
	Username  string // optional HTTP basic auth every phone must present …
	Password  string // … set both or neither
	Domain    string // SIP domain; default: SIPServer's host
	SIPServer string // advertised host[:port] phones register to (port default 5060)
	Transport string // udp (default), tcp or tls

	Directory func() *directory.Snapshot // current snapshot; required
	Store     *store.DB                  // credentials and phone inventory
	Log       *slog.Logger               // default discards
	Now       func() time.Time           // default time.Now

	// Credentials returns the SIP password of a user (username = the
	// extension). Default: Store.Credential, which creates it on first
	// sight. Tests inject fixed passwords here.
	Credentials func(user, username string) (string, error)
	// VoicemailNumber is what voicemail keys dial (voicemail lives
	// upstream); "" leaves the phones' own setting.
	VoicemailNumber string

	RateLimit  float64 // requests per second per source address; default 20
	RateBurst  int     // default 40
	MaxSources int     // source addresses tracked by the rate limiter; default 4096
}

func (o *Options) validate() (sipServer, error) {
	var errs []error
	if o.Listen == "" {
		errs = append(errs, errors.New("listen address is empty"))
	} else if _, err := netip.ParseAddrPort(o.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen address %q: want ip:port: %w", o.Listen, err))
	}
	if o.Directory == nil {
		errs = append(errs, errors.New("no Directory"))
	}
	if o.Store == nil && o.Credentials == nil {
		errs = append(errs, errors.New("no Store and no Credentials"))
	}
	if (o.Username == "") != (o.Password == "") {
		errs = append(errs, errors.New("username and password must be set together"))
	}
	sip, err := parseSIPServer(o.SIPServer, o.Transport, o.Domain)
	if err != nil {
		errs = append(errs, err)
	}
	if o.RateLimit < 0 || o.RateBurst < 0 || o.MaxSources < 0 {
		errs = append(errs, errors.New("negative rate limit setting"))
	}
	return sip, errors.Join(errs...)
}

func (o *Options) defaults() {
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Credentials == nil {
		db := o.Store
		o.Credentials = func(user, username string) (string, error) {
			c, err := db.Credential(user, username)
			return c.Password, err
		}
	}
	if o.RateLimit == 0 {
		o.RateLimit = 20
	}
	if o.RateBurst == 0 {
		o.RateBurst = 40
	}
	if o.MaxSources == 0 {
		o.MaxSources = 4096
	}
}

// parseSIPServer splits "host[:port]" (IPv6 in brackets) and checks the
// transport.
func parseSIPServer(s, transport, domain string) (sipServer, error) {
	if s == "" {
		return sipServer{}, errors.New("SIP server address is empty")
	}
	host, port := s, 5060
	if h, p, err := net.SplitHostPort(s); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return sipServer{}, fmt.Errorf("SIP server %q: bad port", s)
		}
		host, port = h, n
	}
	if host == "" || oneLine(host) != host {
		return sipServer{}, fmt.Errorf("SIP server %q: bad host", s)
	}
	switch transport {
	case "":
		transport = "udp"
	case "udp", "tcp", "tls":
	default:
		return sipServer{}, fmt.Errorf("SIP transport %q: want udp, tcp or tls", transport)
	}
	if domain == "" {
		domain = host
	}
	return sipServer{Host: host, Port: port, Transport: transport, Domain: domain}, nil
}
