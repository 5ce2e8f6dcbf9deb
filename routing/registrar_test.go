package routing

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/store"
)

func TestParseRegister(t *testing.T) {
	reg := func(headers string) string {
		return strings.Replace(registerText, "Contact: <sip:1001@192.0.2.10:5062>\nExpires: 300\n", headers, 1)
	}
	cur := []store.Binding{{User: "alice", Contact: "sip:1001@192.0.2.10:5062", CallID: "reg-1@192.0.2.10", CSeq: 5}}
	tests := []struct {
		name     string
		text     string
		cur      []store.Binding
		wantErr  string // "code reason"
		wantExp  []int  // seconds per change
		wildcard bool
	}{
		{name: "header expiry", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 300\n"), wantExp: []int{300}},
		{name: "param wins", text: reg("Contact: <sip:1001@192.0.2.10:5062>;expires=120\nExpires: 300\n"), wantExp: []int{120}},
		{name: "default clamped to max", text: reg("Contact: <sip:1001@192.0.2.10:5062>\n"), wantExp: []int{1800}},
		{name: "clamped to max", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 999999\n"), wantExp: []int{1800}},
		{name: "too brief", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 10\n"), wantErr: "423 Interval Too Brief"},
		{name: "zero removes", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 0\n"), wantExp: []int{0}},
		{name: "two contacts", text: reg("Contact: <sip:a@192.0.2.10>;expires=60, <sip:b@192.0.2.10>\nExpires: 600\n"), wantExp: []int{60, 600}},
		{name: "wildcard", text: reg("Contact: *\nExpires: 0\n"), wildcard: true},
		{name: "wildcard without expires 0", text: reg("Contact: *\nExpires: 60\n"), wantErr: "400 Bad Wildcard Contact"},
		{name: "wildcard with a contact", text: reg("Contact: *\nContact: <sip:a@192.0.2.10>\nExpires: 0\n"), wantErr: "400 Bad Wildcard Contact"},
		{name: "bad expires", text: reg("Contact: <sip:a@192.0.2.10>\nExpires: soon\n"), wantErr: "400 Bad Expires"},
		{name: "bad contact expires", text: reg("Contact: <sip:a@192.0.2.10>;expires=-1\n"), wantErr: "400 Bad Contact Expires"},
		{name: "query only", text: reg(""), wantExp: nil},
		{name: "out of order", text: reg("Contact: <sip:1001@192.0.2.10:5062>\nExpires: 300\n"), cur: cur, wantErr: "500 Out Of Order CSeq"},
	}
	now := t0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req := parseReq(t, tc.text)
			got, rerr := parseRegister(req, "alice", tc.cur, 60, 1800, now)
			if tc.wantErr != "" {
				if rerr == nil {
					t.Fatalf("accepted, want %s", tc.wantErr)
				}
				if s := strconv.Itoa(rerr.code) + " " + rerr.reason; s != tc.wantErr {
					t.Errorf("error %q, want %q", s, tc.wantErr)
				}
				if rerr.code == 423 && rerr.minExpires != 60 {
					t.Errorf("Min-Expires %d", rerr.minExpires)
				}
				return
			}
			if rerr != nil {
				t.Fatalf("refused: %+v", rerr)
			}
			if got.wildcard != tc.wildcard {
				t.Errorf("wildcard = %v", got.wildcard)
			}
			var exp []int
			for _, c := range got.changes {
				exp = append(exp, int(c.Expires.Sub(now)/time.Second))
				if c.User != "alice" || c.Source != "192.0.2.10:5062" || c.Transport != "UDP" || c.CSeq != 1 {
					t.Errorf("change %+v", c)
				}
			}
			if !equalInts(exp, tc.wantExp) {
				t.Errorf("expiries %v, want %v", exp, tc.wantExp)
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
