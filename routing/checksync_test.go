package routing

import (
	"errors"
	"testing"
	"time"

	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
	"deskgate/routing/registrar"
)

func TestBindingHasMAC(t *testing.T) {
	const mac = "00:15:65:aa:bb:01"
	tests := []struct {
		name string
		b    store.Binding
		want bool
	}{
		{name: "Yealink User-Agent", b: store.Binding{UserAgent: "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:01"}, want: true},
		{name: "Poly serial in the User-Agent", b: store.Binding{UserAgent: "PolycomVVX-VVX_450-UA/6.4.0 (SN:001565AABB01)"}, want: true},
		{name: "instance id with the MAC", b: store.Binding{InstanceID: "<urn:uuid:00000000-0000-1000-8000-001565aabb01>"}, want: true},
		{name: "another phone", b: store.Binding{UserAgent: "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:02"}},
		{name: "no MAC at all", b: store.Binding{UserAgent: "sipp-harness"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := bindingHasMAC(tt.b, mac); got != tt.want {
				t.Errorf("bindingHasMAC = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestCheckSyncTargets(t *testing.T) {
	snap := directorytest.MustParse(t, `
	version: "cs"
	plan: pro
	timezone: UTC
	users:
	  - {id: amy, name: Amy, extension: "1011", license: talk}
	  - {id: bob, name: Bob, extension: "1002", license: talk}
	phones:
	  - {mac: "00:15:65:aa:bb:01", model: yealink-t54w, user: amy}
	  - {mac: "00:15:65:aa:bb:02", model: yealink-t54w, user: amy}
	  - {mac: "00:04:f2:00:00:09", model: poly-vvx450, user: bob}
`)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	// The table as a store would load it, expired binding included: the
	// table itself must leave that one out.
	bs := registrar.New(loadOnly{
		{User: "amy", Contact: "sip:1011@10.0.0.1", UserAgent: "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:01", Expires: now.Add(time.Hour)},
		{User: "amy", Contact: "sip:1011@10.0.0.2", UserAgent: "Yealink SIP-T54W 96.86.0.100 00:15:65:aa:bb:02", Expires: now.Add(time.Hour)},
		{User: "amy", Contact: "sip:1011@10.0.0.3", UserAgent: "softphone", Expires: now.Add(time.Hour)},
		{User: "bob", Contact: "sip:1002@10.0.0.9", UserAgent: "sipp-harness", Expires: now.Add(time.Hour)},
		{User: "bob", Contact: "sip:1002@10.0.0.8", UserAgent: "sipp-harness", Expires: now.Add(-time.Minute)},
	})
	if err := bs.Load(now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, mac string
		want      []string
	}{
		{name: "the binding naming the MAC only", mac: "00-15-65-AA-BB-02", want: []string{"sip:1011@10.0.0.2"}},
		{name: "no binding names the MAC: all live bindings of the user", mac: "00:04:f2:00:00:09", want: []string{"sip:1002@10.0.0.9"}},
		{name: "not in the directory", mac: "00:15:65:ff:ff:ff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := checkSyncTargets(snap, bs, tt.mac, now)
			var contacts []string
			for _, b := range got {
				contacts = append(contacts, b.Contact)
			}
			if len(contacts) != len(tt.want) || (len(contacts) > 0 && contacts[0] != tt.want[0]) {
				t.Errorf("targets %q, want %q", contacts, tt.want)
			}
		})
	}
}

// loadOnly is a registrar.Store that loads a fixed list as it is and
// accepts no writes.
type loadOnly []store.Binding

func (l loadOnly) AllBindings(time.Time) ([]store.Binding, error) { return l, nil }
func (loadOnly) QueueBinding(store.Binding) error                 { return errors.New("read only") }
func (loadOnly) QueueDeleteBinding(string, string) error          { return errors.New("read only") }
func (loadOnly) QueueDeleteBindings(string) error                 { return errors.New("read only") }
func (loadOnly) PurgeExpired(time.Time) (int, error)              { return 0, errors.New("read only") }
