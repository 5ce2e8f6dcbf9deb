//go:build linux

package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/hashicorp/mdns"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// The roles below run in a re-executed test binary inside a namespace (see
// netns_test.go); each returns an error instead of failing a *testing.T.

// macMDNS is the phone that announces itself over mDNS; not in the directory.
const macMDNS = "80:5e:c0:12:34:56"

func runRole(role string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	roles := map[string]func(context.Context, *slog.Logger) error{
		"service": roleService, "phone": rolePhone, "coexist": roleCoexist,
	}
	f, ok := roles[role]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown role %q\n", role)
		return 2
	}
	if err := f(ctx, log); err != nil {
		fmt.Fprintf(os.Stderr, "%s: FAIL: %v\n", role, err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "%s: ok\n", role)
	return 0
}

// marker files in the shared dir tell each side when the other is done.
func markDone(name string) error {
	return os.WriteFile(filepath.Join(os.Getenv(envDir), name), nil, 0o600)
}

func isDone(name string) bool {
	_, err := os.Stat(filepath.Join(os.Getenv(envDir), name))
	return err == nil
}

// poll calls check every 100ms until it returns nil or ctx ends.
func poll(ctx context.Context, what string, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last: %v)", what, ctx.Err(), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// roleService runs the Service on the namespace's veth and waits until the
// inventory holds the mDNS phone and both PnP phones, and the phone is done.
func roleService(ctx context.Context, log *slog.Logger) error {
	snap, err := parseOffice()
	if err != nil {
		return err
	}
	db, err := store.Open(filepath.Join(os.Getenv(envDir), "state.db"), store.Options{})
	if err != nil {
		return err
	}
	defer db.Close()
	svc, err := New(Options{Interfaces: []string{os.Getenv(envIf)}, MDNS: true, PnP: true, Site: "hq",
		Domain: "hq.example.test", ProvisioningURL: "http://0.0.0.0:8080/", Store: db, Log: log,
		Directory:   func() *directory.Snapshot { return snap },
		BrowseEvery: 300 * time.Millisecond, BrowseTimeout: 700 * time.Millisecond})
	if err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- svc.Run(runCtx, nil) }()
	phoneIP := os.Getenv(envPeer)
	want := map[string]store.InventoryPhone{
		macMDNS:    {Vendor: "yealink", Model: "yealink-t54w", Address: phoneIP, Source: "mdns"},
		macYealink: {Vendor: "yealink", Model: "yealink-t54w", Address: phoneIP, Source: "pnp"},
		macUnknown: {Vendor: "yealink", Model: "yealink-t46u", Address: phoneIP, Source: "pnp"},
	}
	err = poll(ctx, "inventory", func() error {
		for mac, w := range want {
			got, ok, err := db.LookupPhone(mac)
			if err != nil || !ok || got.Vendor != w.Vendor || got.Model != w.Model || got.Address != w.Address || got.Source != w.Source {
				return fmt.Errorf("%s: got %+v (found %v, %v), want %+v", mac, got, ok, err, w)
			}
		}
		return nil
	})
	if err == nil {
		err = poll(ctx, "phone done", func() error {
			if !isDone("phone.done") {
				return errors.New("not yet")
			}
			return nil
		})
	}
	_ = markDone("service.done")
	stop()
	if runErr := <-done; runErr != nil && err == nil {
		err = fmt.Errorf("Run: %w", runErr)
	}
	return err
}

// rolePhone plays a Yealink: an mDNS responder announcing _sip._udp with
// its MAC in TXT, a PnP SUBSCRIBE for a directory MAC (expects 200 OK and a
// NOTIFY with the URL) and one for an unknown MAC (expects silence), then
// browses for deskgate's adverts.
func rolePhone(ctx context.Context, log *slog.Logger) error {
	self, svcIP := net.ParseIP(os.Getenv(envSelf)), os.Getenv(envPeer)
	ifi, err := net.InterfaceByName(os.Getenv(envIf))
	if err != nil {
		return err
	}
	zone, err := mdns.NewMDNSService("Yealink SIP-T54W 805EC0123456", "_sip._udp", "", "yealink-805ec0123456.local.",
		5060, []net.IP{self}, []string{"mac=" + macMDNS, "vendor=Yealink", "model=SIP-T54W"})
	if err != nil {
		return err
	}
	srv, err := mdns.NewServer(&mdns.Config{Zone: zone, Iface: ifi, Logger: slog.NewLogLogger(log.Handler(), slog.LevelDebug)})
	if err != nil {
		return fmt.Errorf("phone mdns responder: %w", err)
	}
	defer srv.Shutdown()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: self, Port: 5060})
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := phonePnP(ctx, conn, svcIP); err != nil {
		return err
	}
	if err := phoneBrowse(ctx, ifi, svcIP); err != nil {
		return err
	}
	if err := markDone("phone.done"); err != nil {
		return err
	}
	// Keep answering mDNS until the service has seen what it needs.
	return poll(ctx, "service done", func() error {
		if !isDone("service.done") {
			return errors.New("not yet")
		}
		return nil
	})
}

// phonePnP sends SUBSCRIBEs to the PnP group until answered, checks the
// NOTIFY and answers it; then checks an unknown MAC gets no answer.
func phonePnP(ctx context.Context, conn *net.UDPConn, svcIP string) error {
	group := &net.UDPAddr{IP: net.IPv4(224, 0, 1, 75), Port: 5060}
	sub := snomSubscribe(macYealink, "Yealink", "SIP-T54W", conn.LocalAddr().String()).bytes()
	var res *sip.Response
	err := poll(ctx, "200 OK to SUBSCRIBE", func() error {
		if _, err := conn.WriteToUDP(sub, group); err != nil {
			return err
		}
		msg, _, err := readSIP(conn, 500*time.Millisecond)
		if r, ok := msg.(*sip.Response); ok && r.StatusCode == 200 {
			res = r
			return nil
		}
		return fmt.Errorf("got %v, %v", msg, err)
	})
	if err != nil {
		return err
	}
	var notify *sip.Request
	var from *net.UDPAddr
	err = poll(ctx, "NOTIFY", func() error {
		msg, src, err := readSIP(conn, time.Second)
		if n, ok := msg.(*sip.Request); ok && n.Method == sip.NOTIFY {
			notify, from = n, src
			return nil
		}
		return fmt.Errorf("got %v, %v", msg, err)
	})
	if err != nil {
		return err
	}
	wantURL := "http://" + svcIP + ":8080/"
	if string(notify.Body()) != wantURL || notify.From().Params.GetOr("tag", "") != res.To().Params.GetOr("tag", "x") ||
		!from.IP.Equal(net.ParseIP(svcIP)) {
		return fmt.Errorf("NOTIFY from %s does not match:\n%s", from, notify)
	}
	if _, err := conn.WriteToUDP([]byte(sip.NewResponseFromRequest(notify, 200, "OK", nil).String()), from); err != nil {
		return err
	}
	unknown := snomSubscribe(macUnknown, "Yealink", "SIP-T46U", conn.LocalAddr().String()).bytes()
	if _, err := conn.WriteToUDP(unknown, group); err != nil {
		return err
	}
	for {
		msg, _, err := readSIP(conn, 1500*time.Millisecond)
		if err != nil {
			return nil // silence, as wanted
		}
		if n, ok := msg.(*sip.Request); ok && n.Method == sip.NOTIFY && n.CallID().Value() == notify.CallID().Value() {
			continue // a retransmission of the first NOTIFY that crossed our 200 OK
		}
		return fmt.Errorf("unknown MAC was answered: %v", msg)
	}
}

func readSIP(conn *net.UDPConn, d time.Duration) (sip.Message, *net.UDPAddr, error) {
	buf := make([]byte, 65536)
	_ = conn.SetReadDeadline(time.Now().Add(d))
	n, from, err := conn.ReadFromUDP(buf)
	if err != nil {
		return nil, nil, err
	}
	msg, err := sip.ParseMessage(buf[:n])
	return msg, from, err
}

// phoneBrowse finds deskgate's _http._tcp and _sip._udp adverts.
func phoneBrowse(ctx context.Context, ifi *net.Interface, svcIP string) error {
	wantURL := "http://" + svcIP + ":8080/"
	checks := map[string]func(e *mdns.ServiceEntry) bool{
		"_http._tcp": func(e *mdns.ServiceEntry) bool {
			return e.Port == 8080 && slices.Contains(e.InfoFields, "path=/") && slices.Contains(e.InfoFields, "site=hq") &&
				slices.Contains(e.InfoFields, "url="+wantURL)
		},
		"_sip._udp": func(e *mdns.ServiceEntry) bool {
			return e.Port == 5060 && slices.Contains(e.InfoFields, "provisioning="+wantURL)
		},
	}
	for service, ok := range checks {
		err := poll(ctx, "deskgate advert "+service, func() error {
			ch := make(chan *mdns.ServiceEntry, 16)
			err := mdns.QueryContext(ctx, &mdns.QueryParam{Service: service, Domain: "local", Timeout: 700 * time.Millisecond,
				Interface: ifi, Entries: ch, WantUnicastResponse: true})
			close(ch)
			var seen []string
			for e := range ch {
				if e.AddrV4.Equal(net.ParseIP(svcIP)) && ok(e) {
					return nil
				}
				seen = append(seen, fmt.Sprintf("%s %v:%d %v", e.Name, e.AddrV4, e.Port, e.InfoFields))
			}
			return fmt.Errorf("not found (query error %v; saw %v)", err, seen)
		})
		if err != nil {
			return err
		}
	}
	return nil
}
