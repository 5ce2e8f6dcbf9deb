package routing

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
	"deskgate/routing/events"
	"deskgate/routing/presence"
)

// TestDNDKeySync: every DND change, whoever makes it, is NOTIFYed to every
// subscribed phone of the user, and to nobody else.
func TestDNDKeySync(t *testing.T) {
	s, sink := keysServer(t)
	subscribe(t, s, sink, subMsg{ruser: "1001", ext: "1001", user: "alice", event: "as-feature-event", expires: 600, callID: "desk"})
	subscribe(t, s, sink, subMsg{ruser: "1001", ext: "1001", user: "alice", event: "as-feature-event", expires: 600,
		callID: "other", contact: "192.0.2.11:5062"})
	subscribe(t, s, sink, subMsg{ruser: "1002", ext: "1002", user: "bob", event: "as-feature-event", expires: 600})
	// The first phone rebooted and subscribed again: its old dialog is dropped.
	subscribe(t, s, sink, subMsg{ruser: "1001", ext: "1001", user: "alice", event: "as-feature-event", expires: 600, callID: "desk-2"})
	if n := s.Stats().Subscriptions; n != 3 {
		t.Fatalf("%d subscriptions, want 3 (the rebooted phone's old one replaced)", n)
	}
	ctx := context.Background()
	changes := []struct {
		name string
		set  func() error
		want string
	}{
		{name: "control API", want: "true", set: func() error {
			_, err := s.presence.SetDND(ctx, "alice", true, presence.ByControl)
			return err
		}},
		{name: "feature code", want: "false", set: func() error {
			_, err := s.presence.SetDND(ctx, "alice", false, presence.ByFeatureCode)
			return err
		}},
	}
	total := 4
	for _, c := range changes {
		if err := c.set(); err != nil {
			t.Fatal(err)
		}
		total += 2
		all := sink.wait(t, total)
		time.Sleep(30 * time.Millisecond)
		if n := len(sink.all()); n != total {
			t.Fatalf("%s: %d NOTIFYs, want %d (one per phone of the user)", c.name, n, total)
		}
		for _, n := range all[total-2:] {
			if n.To().Address.User != "1001" || !strings.Contains(string(n.Body()), "<doNotDisturbOn>"+c.want+"<") {
				t.Errorf("%s: NOTIFY to %s with\n%s", c.name, n.To().Address.User, n.Body())
			}
		}
	}
}

// TestAwayKey: pressing an away key toggles away for that department (or
// all), answers like a feature code, and the lamps follow.
func TestAwayKey(t *testing.T) {
	s, sink := keysServer(t)
	subscribe(t, s, sink, subMsg{ruser: "away-2000", ext: "1020", user: "olga", event: "dialog", expires: 600})
	subscribe(t, s, sink, subMsg{ruser: "away", ext: "1020", user: "olga", event: "dialog", expires: 600})
	steps := []struct {
		press   string
		want    string
		away    string
		lampDep bool // away-2000 lit
		lampAll bool // away lit
	}{
		{press: "away-2000", want: "480 Away on support", away: "support", lampDep: true},
		{press: "away", want: "480 Away on", away: "*", lampDep: true, lampAll: true},
		{press: "away-2000", want: "480 Away off support", away: "sales"},
		{press: "away", want: "480 Away on", away: "*", lampDep: true, lampAll: true},
		{press: "away", want: "480 Away off", away: ""},
	}
	n := 2
	for i, st := range steps {
		raw := signedInvite(t, s, st.press, "1020", "olga", i)
		if got := status(exchange(t, s, raw)); got != st.want {
			t.Fatalf("step %d: pressing %s answered %q, want %q", i, st.press, got, st.want)
		}
		if got := strings.Join(s.presence.Get("olga").Away, ","); got != st.away {
			t.Fatalf("step %d: away %q, want %q", i, got, st.away)
		}
		n += 2 // both lamps are re-sent on any away change
		all := sink.wait(t, n)
		lit := map[string]bool{}
		for _, r := range all[n-2:] {
			info, err := events.ParseInfo(r.Body())
			if err != nil {
				t.Fatal(err)
			}
			lit[r.From().Address.User] = len(info.Dialogs) == 1 && info.Dialogs[0].State == events.StateConfirmed
		}
		if lit["away-2000"] != st.lampDep || lit["away"] != st.lampAll {
			t.Errorf("step %d: lamps %v, want away-2000 %v away %v", i, lit, st.lampDep, st.lampAll)
		}
	}
	if got := status(exchange(t, s, signedInvite(t, s, "away-2000", "1001", "alice", 9))); got != "403 Not An Operator Of support" {
		t.Errorf("alice pressing support's away key: %q", got)
	}
}

func signedInvite(t *testing.T, s *Server, ruser, ext, user string, n int, extra ...string) []byte {
	t.Helper()
	c, err := s.opts.Store.Credential(user, ext)
	if err != nil {
		t.Fatal(err)
	}
	uri := "sip:" + ruser + "@test.example"
	ch := &digest.Challenge{Realm: "test.example", Nonce: testNonce(s), Algorithm: "MD5", QOP: []string{"auth"}}
	cred, err := digest.Digest(ch, digest.Options{Method: "INVITE", URI: uri, Username: ext, Password: c.Password, Count: 1, Cnonce: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.Join(append(append([]string{
		"INVITE " + uri + " SIP/2.0",
		fmt.Sprintf("Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-inv%d-%s", n, sip.GenerateBranchN(6)),
		"Max-Forwards: 70",
		"From: <sip:" + ext + "@test.example>;tag=inv" + strconv.Itoa(n),
		"To: <" + uri + ">",
		fmt.Sprintf("Call-ID: key-%d-%s", n, ext),
		"CSeq: 1 INVITE",
		"Contact: <sip:" + ext + "@192.0.2.10:5062>",
		"Proxy-Authorization: " + cred.String()}, extra...),
		"Content-Length: 0", "", ""), "\r\n"))
}

// TestSubscriptionEnds: a subscription ends when the phone answers a
// NOTIFY with an error (RFC 6665: 481) or when it expires unrefreshed
// (last NOTIFY terminated;reason=timeout); either way it leaves the store.
func TestSubscriptionEnds(t *testing.T) {
	tests := []struct {
		name     string
		status   int  // the phone's answer to NOTIFYs
		sweepAt  bool // run the expiry sweep after the expiry
		notifies int
		last     string
	}{
		{name: "phone answers 481", status: 481, notifies: 1, last: "active;expires=600"},
		{name: "expired", status: 200, sweepAt: true, notifies: 2, last: "terminated;reason=timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sink := keysServer(t)
			sink.status = tt.status
			res := exchange(t, s, subMsg{ruser: "1010", ext: "1002", user: "bob", event: "dialog", expires: 600}.raw(t, s))
			if res.StatusCode != 200 {
				t.Fatalf("answered %s", status(res))
			}
			sink.wait(t, 1)
			if tt.sweepAt {
				if n := s.subs.count(); n != 1 {
					t.Fatalf("%d subscriptions before expiry", n)
				}
				s.sweepSubscriptions(time.Now().Add(601 * time.Second))
			}
			eventually(t, "subscription gone", func() bool { return s.subs.count() == 0 })
			all := sink.wait(t, tt.notifies)
			if len(all) != tt.notifies {
				t.Fatalf("%d NOTIFYs, want %d", len(all), tt.notifies)
			}
			if got := all[len(all)-1].GetHeader("Subscription-State").Value(); !strings.HasPrefix(got, tt.last[:10]) {
				t.Errorf("last Subscription-State %q, want %q", got, tt.last)
			}
			// The store record goes after the last NOTIFY is answered.
			eventually(t, "no subscription left in the store", func() bool {
				subs, _ := s.opts.Store.Subscriptions(time.Now())
				return len(subs) == 0
			})
		})
	}
}

// TestAwayKeyRevoked: an operator removed from a department loses that
// department's away key: the next NOTIFY ends the subscription.
func TestAwayKeyRevoked(t *testing.T) {
	snap := directorytest.MustParse(t, keysOffice)
	var cur = snap
	var mu sync.Mutex
	s := testServer(t, func(o *Options) {
		o.Directory = func() *directory.Snapshot { mu.Lock(); defer mu.Unlock(); return cur }
		o.Now = time.Now
	})
	sink := &notifySink{}
	sink.install(s)
	t.Cleanup(func() { s.senders.stop(time.Now().Add(5 * time.Second)) })
	subscribe(t, s, sink, subMsg{ruser: "away-2100", ext: "1001", user: "alice", event: "dialog", expires: 600})
	mu.Lock()
	cur = directorytest.MustParse(t, strings.Replace(keysOffice, "operators: [olga, alice]", "operators: [olga]", 1))
	mu.Unlock()
	s.resumeSubscriptions() // any reason to NOTIFY
	all := sink.wait(t, 2)
	if got := all[1].GetHeader("Subscription-State").Value(); got != "terminated;reason=rejected" {
		t.Errorf("Subscription-State %q, want terminated;reason=rejected", got)
	}
	eventually(t, "subscription gone", func() bool { return s.subs.count() == 0 })
}
