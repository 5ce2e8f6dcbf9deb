package daemon

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/controlapi"
	"deskgate/daemon/directory/directorytest"
	"deskgate/daemon/store"
	"deskgate/routing"
)

func TestPhoneRows(t *testing.T) {
	snap := directorytest.MustParse(t, `
		plan: pro
		timezone: UTC
		users:
		  - {id: ann, name: Ann, extension: "1001", license: talk}
		  - {id: bob, name: Bob, extension: "1002", license: talk}
		phones:
		  - {mac: "00:15:65:00:00:01", model: yealink-t54w, user: ann}
		  - {mac: "00:04:f2:00:00:02", model: poly-vvx450, user: bob}
	`)
	now := time.Now()
	inv := []store.InventoryPhone{
		{MAC: "00:04:f2:00:00:02", Address: "192.0.2.7", Source: "provisioning", LastSeen: now},
		{MAC: "00:15:65:99:99:99", Vendor: "yealink", Model: "yealink-t46u", Address: "192.0.2.9", Source: "mdns"},
	}
	regs := []routing.Registration{
		{User: "ann", UserAgent: "Yealink SIP-T54W 96.86.0.100 00:15:65:00:00:01", Source: "192.0.2.5:5060"},
		{User: "bob", UserAgent: "PolycomVVX-VVX_450-UA/6.4", Source: "192.0.2.7:5060"},
	}
	rows := phoneRows(snap, inv, regs, nil)
	want := []controlapi.Phone{
		{MAC: "00:04:f2:00:00:02", User: "bob", Vendor: "poly", Model: "poly-vvx450", Configured: true, Discovered: true, Registered: true, Address: "192.0.2.7", LastSeen: now, Secrets: "armed"},
		{MAC: "00:15:65:00:00:01", User: "ann", Vendor: "yealink", Model: "yealink-t54w", Configured: true, Registered: true, Secrets: "armed"},
		{MAC: "00:15:65:99:99:99", Vendor: "yealink", Model: "yealink-t46u", Discovered: true, Address: "192.0.2.9"},
	}
	if len(rows) != len(want) {
		t.Fatalf("rows %+v", rows)
	}
	for i := range want {
		if !reflect.DeepEqual(rows[i], want[i]) {
			t.Errorf("row %d:\n got %+v\nwant %+v", i, rows[i], want[i])
		}
	}
	// Another user's binding from the phone's address does not count.
	regs = []routing.Registration{{User: "ann", Source: "192.0.2.7:5060"}}
	if rows := phoneRows(snap, inv, regs, nil); rows[0].Registered {
		t.Errorf("bob's phone registered by ann's binding")
	}
}

// A phone that names its MAC only in +sip.instance and registers from
// another address is still registered: the same test check-sync uses.
func TestPhoneRowsInstanceID(t *testing.T) {
	snap := directorytest.MustParse(t, `
		plan: pro
		timezone: UTC
		users:
		  - {id: ann, name: Ann, extension: "1001", license: talk}
		phones:
		  - {mac: "00:15:65:00:00:01", model: yealink-t54w, user: ann}
	`)
	inv := []store.InventoryPhone{{MAC: "00:15:65:00:00:01", Address: "192.0.2.7", Source: "mdns"}}
	regs := []routing.Registration{{User: "ann", UserAgent: "softphone", Source: "192.0.2.99:5060",
		InstanceID: "<urn:uuid:00000000-0000-1000-8000-001565000001>"}}
	if rows := phoneRows(snap, inv, regs, nil); !rows[0].Registered {
		t.Errorf("phone naming its MAC in +sip.instance not registered: %+v", rows[0])
	}
	regs[0].InstanceID = "<urn:uuid:00000000-0000-1000-8000-001565000002>"
	if rows := phoneRows(snap, inv, regs, nil); rows[0].Registered {
		t.Errorf("another phone's instance id counted: %+v", rows[0])
	}
}

func TestPhoneRowsSecrets(t *testing.T) {
	snap := directorytest.MustParse(t, `
		plan: pro
		timezone: UTC
		users:
		  - {id: ann, name: Ann, extension: "1001", license: talk}
		phones:
		  - {mac: "00:15:65:00:00:01", model: yealink-t54w, user: ann}
		  - {mac: "00:15:65:00:00:02", model: yealink-t54w, user: ann}
	`)
	inv := []store.InventoryPhone{{MAC: "00:15:65:99:99:99", Address: "192.0.2.9", Source: "mdns"}}
	sbs := []store.SecretBinding{{MAC: "00:15:65:00:00:02", Address: "192.0.2.66",
		Alert: "secrets went to a new address 192.0.2.66 (phone was at 192.0.2.7)"}}
	rows := phoneRows(snap, inv, nil, sbs)
	if rows[0].Secrets != "armed" || rows[0].SecretsAlert != "" {
		t.Errorf("never fetched: %+v", rows[0])
	}
	if rows[1].Secrets != "bound 192.0.2.66" || rows[1].SecretsAlert != sbs[0].Alert {
		t.Errorf("bound with alert: %+v", rows[1])
	}
	if rows[2].Configured || rows[2].Secrets != "" {
		t.Errorf("a phone not in the directory has a secrets state: %+v", rows[2])
	}
}

// A phone whose model has no room for all its keys lists them (the
// provisioning layout's warnings), so deskgatectl phones shows them.
func TestPhoneRowsWarnings(t *testing.T) {
	snap := directorytest.MustParse(t, `
		plan: pro
		timezone: UTC
		users:
		  - {id: ann, name: Ann, extension: "1001", license: talk}
		  - {id: bob, name: Bob, extension: "1002", license: talk}
		departments:
		  - {id: support, name: Support, extension: "2000", operators: [ann]}
		  - {id: sales, name: Sales, extension: "2100", operators: [ann]}
		phones:
		  - {mac: "00:15:65:00:00:01", model: yealink-t31p, user: ann}
		  - {mac: "00:15:65:00:00:02", model: yealink-t54w, user: bob}
	`)
	rows := phoneRows(snap, nil, nil, nil)
	if len(rows) != 2 {
		t.Fatalf("rows %+v", rows)
	}
	small, big := rows[0], rows[1]
	if big.Warnings != nil {
		t.Errorf("t54w of a plain user: warnings %q, want none", big.Warnings)
	}
	all := strings.Join(small.Warnings, "\n")
	for _, want := range []string{`"Away Support"`, `"Away all"`, "yealink-t31p has 2 line keys"} {
		if !strings.Contains(all, want) {
			t.Errorf("t31p operator of two departments: warnings %q lack %s", small.Warnings, want)
		}
	}
}
