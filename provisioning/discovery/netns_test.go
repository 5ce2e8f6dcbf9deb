//go:build linux

package discovery

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Network tests run the test binary again inside network namespaces the
// test creates (root and iproute2 needed; CI runs as root). Everything they
// send stays on veth pairs and loopbacks inside those namespaces: the
// host's own interfaces are never touched.

const (
	envRole = "DG_DISCOVERY_NETNS_ROLE" // which role the re-executed binary plays
	envDir  = "DG_DISCOVERY_NETNS_DIR"  // shared temp dir (store, done markers)
	envIf   = "DG_DISCOVERY_NETNS_IF"   // the namespace's interface
	envPeer = "DG_DISCOVERY_NETNS_PEER" // the other side's address
	envSelf = "DG_DISCOVERY_NETNS_SELF" // this side's address
)

func TestMain(m *testing.M) {
	if role := os.Getenv(envRole); role != "" {
		os.Exit(runRole(role))
	}
	os.Exit(m.Run())
}

// netns is a namespace the test created, with its interface and address.
type netns struct {
	name, iface, addr string
}

// ip runs an iproute2 command.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// newNamespaces creates n namespaces (deleted at cleanup), skipping the test
// when namespaces cannot be created here.
func newNamespaces(t *testing.T, n int) (id string, nss []netns) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespace test needs root (CI runs as root)")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("network namespace test needs iproute2's ip command")
	}
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	id = hex.EncodeToString(b)
	for i := range n {
		name := fmt.Sprintf("dg-test-%s-%c", id, 'a'+i)
		if err := ip("netns", "add", name); err != nil {
			if i == 0 {
				t.Skipf("cannot create a network namespace here: %v", err)
			}
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := ip("netns", "del", name); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		})
		nss = append(nss, netns{name: name})
	}
	return id, nss
}

// vethPair creates two namespaces joined by a veth pair on 10.231.x.0/24,
// each with lo up and a 224.0.0.0/4 route on its veth (docs/libraries.md §2: the
// mDNS library joins groups on the default interface).
func vethPair(t *testing.T) (a, b netns) {
	t.Helper()
	id, nss := newNamespaces(t, 2)
	a, b = nss[0], nss[1]
	a.iface, b.iface = "dgv"+id+"a", "dgv"+id+"b"
	subnet := fmt.Sprintf("10.231.%d", int(id[0])%200+10)
	a.addr, b.addr = subnet+".1", subnet+".2"
	steps := [][]string{
		{"-n", a.name, "link", "add", a.iface, "type", "veth", "peer", "name", b.iface, "netns", b.name},
	}
	for _, ns := range []netns{a, b} {
		steps = append(steps,
			[]string{"-n", ns.name, "addr", "add", ns.addr + "/24", "dev", ns.iface},
			[]string{"-n", ns.name, "link", "set", "lo", "up"},
			[]string{"-n", ns.name, "link", "set", ns.iface, "up"},
			[]string{"-n", ns.name, "route", "add", "224.0.0.0/4", "dev", ns.iface})
	}
	for _, s := range steps {
		if err := ip(s...); err != nil {
			t.Fatal(err)
		}
	}
	return a, b
}

// loopbackNamespace creates one namespace whose lo carries multicast.
func loopbackNamespace(t *testing.T) netns {
	t.Helper()
	_, nss := newNamespaces(t, 1)
	ns := nss[0]
	ns.iface, ns.addr = "lo", "127.0.0.1"
	for _, s := range [][]string{
		{"-n", ns.name, "link", "set", "lo", "up", "multicast", "on"},
		{"-n", ns.name, "route", "add", "224.0.0.0/4", "dev", "lo"},
	} {
		if err := ip(s...); err != nil {
			t.Fatal(err)
		}
	}
	return ns
}

// child is the test binary re-executed in a namespace in some role.
type child struct {
	role string
	cmd  *exec.Cmd
	out  bytes.Buffer
	err  error
}

// startChild runs the test binary as role inside ns.
func startChild(ctx context.Context, t *testing.T, ns netns, role, dir, peer string) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{role: role}
	c.cmd = exec.CommandContext(ctx, "ip", "netns", "exec", ns.name, exe, "-test.run=^$")
	c.cmd.Env = append(os.Environ(), envRole+"="+role, envDir+"="+dir, envIf+"="+ns.iface,
		envPeer+"="+peer, envSelf+"="+ns.addr)
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	c.cmd.WaitDelay = 5 * time.Second
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", role, err)
	}
	return c
}

// waitChildren waits for every child and fails the test with the output of
// those that did not exit 0.
func waitChildren(t *testing.T, cs ...*child) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Add(1)
		go func() { defer wg.Done(); c.err = c.cmd.Wait() }()
	}
	wg.Wait()
	for _, c := range cs {
		if c.err != nil || testing.Verbose() {
			t.Logf("--- %s (%v) ---\n%s", c.role, c.err, c.out.String())
		}
		if c.err != nil {
			t.Errorf("%s failed: %v", c.role, c.err)
		}
	}
}

// TestNetnsDiscovery runs the Service in one namespace and a fake phone in
// another, across a veth pair: the phone advertises itself over mDNS with a
// MAC in its TXT record and sends SIP PnP SUBSCRIBEs to 224.0.1.75:5060; the
// Service records both, answers the directory phone with the provisioning
// URL and ignores the unknown one; the phone finds deskgate's mDNS adverts.
func TestNetnsDiscovery(t *testing.T) {
	a, b := vethPair(t)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	svc := startChild(ctx, t, a, "service", dir, b.addr)
	phone := startChild(ctx, t, b, "phone", dir, a.addr)
	waitChildren(t, svc, phone)
}

// TestNetnsPnPSocketCoexists checks, in a namespace whose lo carries
// multicast, that the PnP socket shares port 5060 with a SIP server socket
// that sets SO_REUSEADDR, takes none of its unicast traffic, and gets the
// multicast; and that it cannot bind next to a SIP socket without it.
func TestNetnsPnPSocketCoexists(t *testing.T) {
	ns := loopbackNamespace(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	waitChildren(t, startChild(ctx, t, ns, "coexist", t.TempDir(), ""))
}
