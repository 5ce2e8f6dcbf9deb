package discovery

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"deskgate/daemon/directory"
	"deskgate/daemon/store"
)

// testOffice is a small valid directory: one Yealink and one Snom phone.
const testOffice = `
version: "t1"
plan: pro
timezone: UTC
users:
  - {id: jsmith, name: John Smith, extension: "1001", license: talk}
  - {id: mlee, name: Maria Lee, extension: "1002", license: talk}
phones:
  - {mac: "00:15:65:aa:bb:01", model: yealink-t54w, user: jsmith}
  - {mac: "00:04:13:aa:bb:02", model: snom-d785, user: mlee}
`

// Phones of testOffice, and one the directory does not have.
const (
	macYealink = "00:15:65:aa:bb:01"
	macSnom    = "00:04:13:aa:bb:02"
	macUnknown = "00:15:65:aa:bb:99"
)

func parseOffice() (*directory.Snapshot, error) {
	return directory.Parse([]byte(testOffice))
}

func testSnapshot(t testing.TB) *directory.Snapshot {
	t.Helper()
	snap, err := parseOffice()
	if err != nil {
		t.Fatalf("test office: %v", err)
	}
	return snap
}

func testStore(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// pnpSubscribe is a SIP PnP SUBSCRIBE shaped like the vendors' traces.
type pnpSubscribe struct {
	RURI, From, To, Contact string // header values / URI
	Via                     string // sent-by host:port and params after it
	Event                   string // full Event header line, "" = none
	Method                  string // default SUBSCRIBE
	CSeq                    string // default "1 SUBSCRIBE"
	CallID                  string
}

// snomSubscribe is the Snom wiki trace with the MAC, vendor and model set.
func snomSubscribe(mac, vendor, model, sentBy string) pnpSubscribe {
	user := "MAC%3a" + strings.ToUpper(strings.ReplaceAll(mac, ":", ""))
	return pnpSubscribe{
		RURI:    "sip:" + user + "@intern.snom.de",
		From:    "<sip:" + user + "@intern.snom.de>;tag=658512961",
		To:      "<sip:" + user + "@intern.snom.de>",
		Contact: "<sip:" + sentBy + ">",
		Via:     sentBy + ";rport;branch=z9hG4bK-" + strings.ReplaceAll(mac, ":", ""),
		Event: fmt.Sprintf(`Event: ua-profile;profile-type="device";vendor="%s";model="%s";version="10.1.54"`,
			vendor, model),
		CallID: "1930770594@" + sentBy,
	}
}

func (p pnpSubscribe) bytes() []byte {
	method := p.Method
	if method == "" {
		method = "SUBSCRIBE"
	}
	cseq := p.CSeq
	if cseq == "" {
		cseq = "1 " + method
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s SIP/2.0\r\n", method, p.RURI)
	fmt.Fprintf(&b, "Via: SIP/2.0/UDP %s\r\n", p.Via)
	fmt.Fprintf(&b, "From: %s\r\nTo: %s\r\n", p.From, p.To)
	fmt.Fprintf(&b, "Call-ID: %s\r\nCSeq: %s\r\n", p.CallID, cseq)
	if p.Event != "" {
		b.WriteString(p.Event + "\r\n")
	}
	b.WriteString("Expires: 0\r\nAccept: application/url\r\nMax-Forwards: 70\r\n")
	if p.Contact != "" {
		fmt.Fprintf(&b, "Contact: %s\r\n", p.Contact)
	}
	b.WriteString("Content-Length: 0\r\n\r\n")
	return []byte(b.String())
}
