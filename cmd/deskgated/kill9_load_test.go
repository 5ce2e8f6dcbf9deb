package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"deskgate/daemon/controlapi"
	"deskgate/routing/sipptest"
)

// TestKill9UnderLoad is the crash-safety promise under load (docs/spec.md,
// docs/decisions.md "Crash safety under load"): while sipp registers 100
// phones over and over and the control API flips DND and away and rotates
// passwords, deskgated is SIGKILLed. After the restart every DND, away and
// password change that was acknowledged before the kill is there, and every
// phone whose REGISTER was answered well before the kill is registered
// (bindings are written behind the response, within 1 s plus the commit).
func TestKill9UnderLoad(t *testing.T) {
	sipptest.Require(t)
	const users = 100
	sipPort := sipptest.FreePorts(t, 1)
	dir := t.TempDir()
	var office strings.Builder
	office.WriteString("version: \"kill9-load\"\nplan: pro\ntimezone: UTC\nusers:\n")
	for i := range users {
		fmt.Fprintf(&office, "  - {id: u%d, name: \"User %d\", extension: \"%d\", license: talk}\n", 1000+i, 1000+i, 1000+i)
	}
	office.WriteString("departments:\n")
	for g := range users / 25 { // at most 25 operators a department
		fmt.Fprintf(&office, "  - {id: grp%d, name: Group %d, extension: \"%d\", operators: [", g, g, 2000+g)
		for i := g * 25; i < (g+1)*25; i++ {
			if i > g*25 {
				office.WriteString(", ")
			}
			fmt.Fprintf(&office, "u%d", 1000+i)
		}
		office.WriteString("]}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(office.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	writeConfig(t, dir, fmt.Sprintf("directory: {file: office.yaml}\nsip: {listen: [\"udp:127.0.0.1:%d\"]}\n", sipPort))
	d := startDaemon(t, dir)
	eventually(t, 10*time.Second, "the office to load", func() bool { return d.status().Directory.Version != "" })
	api := controlapi.NewClient(d.socket)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	var csv strings.Builder
	for i := range users {
		var c controlapi.Credentials
		if err := api.Get(ctx, controlapi.UserPath(controlapi.PathCredentials, fmt.Sprintf("u%d", 1000+i)), &c); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&csv, "%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]\n",
			c.Username, c.Password, 20000+i, c.Username, c.Password)
	}
	// 300 REGISTERs a second through the 100 phones, for up to 20 s: the
	// kill comes in the middle.
	reg := sipptest.Start(t, sipptest.Options{Name: "register-load", Scenario: sippScenario(t, "reg.xml"),
		Remote: "127.0.0.1:" + strconv.Itoa(sipPort), Calls: 6000, Rate: 300, Inf: writeCSV(t, csv.String()),
		Keys: map[string]string{"expires": "600"}, Timeout: 30 * time.Second})

	// Control-API writers: what each acknowledged last, per user. A change
	// whose answer never came (in flight at the kill) may or may not stay.
	type want struct {
		dnd, away  bool
		password   string
		inFlight   bool // the last request had no answer
		changes    int
		lastChange time.Time
	}
	var mu sync.Mutex
	acked := map[string]*want{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 10000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				// Each user has one writer: two workers rotating one
				// password at once could record their answers in the
				// other order than the store committed them.
				i := (w + 4*n) % users
				user := fmt.Sprintf("u%d", 1000+i)
				mu.Lock()
				st := acked[user]
				if st == nil {
					st = &want{}
					acked[user] = st
				}
				st.inFlight = true
				next := *st
				mu.Unlock()
				var err error
				op := n % 3
				if op == 2 && i >= users/2 {
					op = 0 // the second half keeps its passwords: their phones keep registering
				}
				switch op {
				case 0:
					next.dnd = !next.dnd
					err = api.Post(ctx, controlapi.UserPath(controlapi.PathDND, user), controlapi.PresenceChange{On: next.dnd}, nil)
				case 1:
					next.away = !next.away
					err = api.Post(ctx, controlapi.UserPath(controlapi.PathAway, user), controlapi.PresenceChange{On: next.away, Department: fmt.Sprintf("grp%d", i/25)}, nil)
				case 2:
					var c controlapi.Credentials
					err = api.Post(ctx, controlapi.UserPath(controlapi.PathCredentials, user)+"?rotate=1", nil, &c)
					next.password = c.Password
				}
				if err != nil {
					return // the kill: this change stays in flight
				}
				mu.Lock()
				next.inFlight, next.changes, next.lastChange = false, next.changes+1, time.Now()
				*st = next
				mu.Unlock()
			}
		}()
	}

	time.Sleep(3 * time.Second)
	killed := time.Now()
	d.kill()
	close(stop)
	wg.Wait()
	reg.Stop()

	d = startDaemon(t, dir)
	eventually(t, 10*time.Second, "the office to load again", func() bool { return d.status().Directory.Version != "" })
	api = controlapi.NewClient(d.socket)
	checked := 0
	for user, w := range acked {
		if w.inFlight || w.changes == 0 {
			continue
		}
		checked++
		var p controlapi.Presence
		if err := api.Get(ctx, controlapi.UserPath(controlapi.PathDND, user), &p); err != nil {
			t.Fatal(err)
		}
		if p.DND != w.dnd {
			t.Errorf("%s: DND %v after the restart, %v was acknowledged", user, p.DND, w.dnd)
		}
		if away := len(p.Away) > 0; away != w.away {
			t.Errorf("%s: away %v after the restart, %v was acknowledged", user, p.Away, w.away)
		}
		if w.password != "" {
			var c controlapi.Credentials
			if err := api.Get(ctx, controlapi.UserPath(controlapi.PathCredentials, user), &c); err != nil {
				t.Fatal(err)
			}
			if c.Password != w.password {
				t.Errorf("%s: password after the restart is not the one acknowledged at rotation", user)
			}
		}
	}
	if checked < users/2 {
		t.Fatalf("only %d users had acknowledged changes before the kill", checked)
	}
	t.Logf("%d users with acknowledged changes checked; kill at %s", checked, killed.Format(time.StampMilli))

	// Every phone whose password stayed was answered many times before the
	// last second (100 phones at 300/s: each one about every 0.33 s from
	// the start). A rotated password ends the user's registrations.
	var regs []struct{ User string }
	if err := api.Get(ctx, controlapi.PathRegistrations, &regs); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range regs {
		seen[r.User] = true
	}
	for i := users / 2; i < users; i++ {
		if u := fmt.Sprintf("u%d", 1000+i); !seen[u] {
			t.Errorf("%s's registration is lost after the restart", u)
		}
	}
}
