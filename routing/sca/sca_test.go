package sca

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// states renders a line's appearances as "1:state 2:state".
func states(tb *Table, ext string) string {
	var s []string
	for _, a := range tb.Appearances(ext) {
		s = append(s, itoa(a.Index)+":"+string(a.State))
	}
	return strings.Join(s, " ")
}

func itoa(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

func TestSeize(t *testing.T) {
	cases := []struct {
		name    string
		run     func(tb *Table) error
		want    string
		wantErr error
	}{
		{name: "seize any takes the lowest free", run: func(tb *Table) error {
			_, err := tb.Seize("2000", 0, "olga", t0)
			return err
		}, want: "01:seized"},
		{name: "seize a given index", run: func(tb *Table) error {
			_, err := tb.Seize("2000", 3, "olga", t0)
			return err
		}, want: "03:seized"},
		{name: "second seize of the same appearance is refused", run: func(tb *Table) error {
			tb.Seize("2000", 1, "olga", t0)
			_, err := tb.Seize("2000", 1, "oscar", t0)
			return err
		}, want: "01:seized", wantErr: ErrBusy},
		{name: "the seizer renews its own seize", run: func(tb *Table) error {
			tb.Seize("2000", 1, "olga", t0)
			_, err := tb.Seize("2000", 1, "olga", t0.Add(10*time.Second))
			return err
		}, want: "01:seized"},
		{name: "seize of an alerting appearance is refused", run: func(tb *Table) error {
			tb.Incoming("2000", "c1", "ft", `<sip:1002@d>`, Peer{})
			_, err := tb.Seize("2000", 1, "olga", t0)
			return err
		}, want: "01:alerting", wantErr: ErrBusy},
		{name: "index out of range", run: func(tb *Table) error {
			_, err := tb.Seize("2000", MaxAppearances+1, "olga", t0)
			return err
		}, want: "", wantErr: ErrNoIndex},
		{name: "full line", run: func(tb *Table) error {
			for i := 1; i <= MaxAppearances; i++ {
				tb.Seize("2000", i, "olga", t0)
			}
			_, err := tb.Seize("2000", 0, "oscar", t0)
			return err
		}, wantErr: ErrFull},
		{name: "release frees the seize", run: func(tb *Table) error {
			tb.Seize("2000", 2, "olga", t0)
			if tb.Release("2000", 2, "oscar") {
				return errors.New("released someone else's seize")
			}
			if !tb.Release("2000", 2, "olga") {
				return errors.New("release failed")
			}
			return nil
		}, want: ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := New()
			err := c.run(tb)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("error %v, want %v", err, c.wantErr)
			}
			if c.name == "full line" {
				return
			}
			if got := states(tb, "2000"); got != c.want {
				t.Errorf("appearances %q, want %q", got, c.want)
			}
		})
	}
}

func TestSeizeExpires(t *testing.T) {
	tb := New()
	tb.Seize("2000", 1, "olga", t0)
	tb.Seize("2100", 2, "oscar", t0.Add(5*time.Second))
	if got := tb.NextExpiry(); !got.Equal(t0.Add(SeizeTTL)) {
		t.Fatalf("next expiry %v", got)
	}
	if r := tb.Expire(t0.Add(SeizeTTL - time.Millisecond)); len(r) != 0 {
		t.Fatalf("expired early: %v", r)
	}
	r := tb.Expire(t0.Add(SeizeTTL))
	if len(r) != 1 || r[0] != (Released{Line: "2000", Index: 1, Owner: "olga"}) {
		t.Fatalf("expired %v", r)
	}
	if got := tb.Lines(); len(got) != 1 || got[0] != "2100" {
		t.Fatalf("lines %v", got)
	}
	// A seize used by a call does not expire.
	tb.Outgoing("2100", "oscar", "c1", "tag1", "<sip:+1555@d>")
	if r := tb.Expire(t0.Add(time.Hour)); len(r) != 0 {
		t.Fatalf("call's appearance expired: %v", r)
	}
	if tb.NextExpiry() != (time.Time{}) {
		t.Fatal("next expiry with nothing seized")
	}
}

// TestCallFlows drives each call shape through its transitions and checks
// the state after every step.
func TestCallFlows(t *testing.T) {
	type step struct {
		do   func(tb *Table) string
		want string
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{name: "incoming: alerting, answered, held, private, resumed, BYE", steps: []step{
			{func(tb *Table) string { tb.Incoming("2000", "c1", "caller", "<sip:1002@d>", Peer{}); return "" }, "01:alerting"},
			{func(tb *Table) string { return tb.Answered("c1", "olga", "olgatag", Peer{}) }, "01:active"},
			{func(tb *Table) string { return tb.Hold("c1", "caller", "sendonly") }, "01:active"}, // being held is not holding
			{func(tb *Table) string { return tb.Hold("c1", "olgatag", "sendonly") }, "01:held"},
			{func(tb *Table) string { return tb.Hold("c1", "olgatag", "inactive") }, "01:held-private"},
			{func(tb *Table) string { return tb.Hold("c1", "olgatag", "sendrecv") }, "01:active"},
			{func(tb *Table) string { return tb.Ended("c1") }, ""},
		}},
		{name: "incoming while one is active takes the next appearance", steps: []step{
			{func(tb *Table) string { tb.Incoming("2000", "c1", "a", "<sip:1002@d>", Peer{}); return "" }, "01:alerting"},
			{func(tb *Table) string { return tb.Answered("c1", "olga", "b", Peer{}) }, "01:active"},
			{func(tb *Table) string { tb.Incoming("2000", "c2", "c", "<sip:1003@d>", Peer{}); return "" }, "01:active 02:alerting"},
			{func(tb *Table) string { return tb.Ended("c1") }, "02:alerting"},
			{func(tb *Table) string { return tb.Ended("c2") }, ""},
		}},
		{name: "outgoing after a seize uses the seized appearance", steps: []step{
			{func(tb *Table) string { tb.Seize("2000", 2, "olga", t0); return "" }, "02:seized"},
			{func(tb *Table) string { tb.Outgoing("2000", "olga", "c1", "olgatag", "<sip:1002@d>"); return "" }, "02:progressing"},
			{func(tb *Table) string { return tb.Answered("c1", "", "bobtag", Peer{}) }, "02:active"},
			{func(tb *Table) string { return tb.Hold("c1", "olgatag", "sendonly") }, "02:held"},
			{func(tb *Table) string { return tb.Ended("c1") }, ""},
		}},
		{name: "outgoing without a seize takes a free appearance", steps: []step{
			{func(tb *Table) string { tb.Seize("2000", 1, "oscar", t0); return "" }, "01:seized"},
			{func(tb *Table) string { tb.Outgoing("2000", "olga", "c1", "t", "<sip:1002@d>"); return "" }, "01:seized 02:progressing"},
		}},
		{name: "retrieve moves the appearance to the new call", steps: []step{
			{func(tb *Table) string { tb.Incoming("2000", "c1", "caller", "<sip:1002@d>", Peer{}); return "" }, "01:alerting"},
			{func(tb *Table) string { return tb.Answered("c1", "olga", "olgatag", Peer{}) }, "01:active"},
			{func(tb *Table) string { return tb.Hold("c1", "olgatag", "sendonly") }, "01:held"},
			{func(tb *Table) string {
				if !tb.StartRetrieve("c1", "c2", "oscar") {
					return "no retrieve"
				}
				return ""
			}, "01:held"},
			{func(tb *Table) string {
				line := tb.Retrieved("c2", "oscartag", "callertag2")
				if c, _ := tb.ByCall("c2"); c.Owner != "oscar" || c.LineTag != "oscartag" || c.RemoteTag != "callertag2" {
					return "retrieved appearance: " + c.Owner + " " + c.LineTag + " " + c.RemoteTag
				}
				return line
			}, "01:active"},
			{func(tb *Table) string { return tb.Ended("c1") }, "01:active"}, // the replaced dialog's BYE
			{func(tb *Table) string { return tb.Ended("c2") }, ""},
		}},
		{name: "a failed retrieve leaves the call held", steps: []step{
			{func(tb *Table) string { tb.Incoming("2000", "c1", "caller", "<sip:1002@d>", Peer{}); return "" }, "01:alerting"},
			{func(tb *Table) string { return tb.Answered("c1", "olga", "olgatag", Peer{}) }, "01:active"},
			{func(tb *Table) string { return tb.Hold("c1", "olgatag", "sendonly") }, "01:held"},
			{func(tb *Table) string { tb.StartRetrieve("c1", "c2", "oscar"); return tb.Ended("c2") }, "01:held"},
			{func(tb *Table) string { return tb.Retrieved("c2", "x", "y") }, "01:held"},
		}},
		{name: "alerting call is not retrievable", steps: []step{
			{func(tb *Table) string { tb.Incoming("2000", "c1", "caller", "<sip:1002@d>", Peer{}); return "" }, "01:alerting"},
			{func(tb *Table) string {
				if tb.StartRetrieve("c1", "c2", "oscar") {
					return "retrieved"
				}
				return ""
			}, "01:alerting"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tb := New()
			for i, s := range c.steps {
				if r := s.do(tb); r != "" && r != "2000" {
					t.Fatalf("step %d: %s", i, r)
				}
				if got := states(tb, "2000"); got != s.want {
					t.Fatalf("step %d: appearances %q, want %q", i, got, s.want)
				}
			}
		})
	}
}

func TestCallInfo(t *testing.T) {
	line := "sip:2000@office.test"
	cases := []struct {
		name string
		apps []Appearance
		want string
	}{
		{"idle", nil, "<sip:2000@office.test>;appearance-index=*;appearance-state=idle"},
		{"seized and active", []Appearance{
			{Index: 1, State: Seized},
			{Index: 2, State: Active, Remote: `"Bob \ Baker" <sip:1002@office.test>`},
		}, `<sip:2000@office.test>;appearance-index=1;appearance-state=seized,` +
			`<sip:2000@office.test>;appearance-index=2;appearance-state=active;appearance-uri="\"Bob \\ Baker\" <sip:1002@office.test>",` +
			`<sip:2000@office.test>;appearance-index=*;appearance-state=idle`},
		{"held-private hides the party", []Appearance{{Index: 3, State: HeldPrivate, Remote: "<sip:1002@d>"}},
			`<sip:2000@office.test>;appearance-index=3;appearance-state=held-private,` +
				`<sip:2000@office.test>;appearance-index=*;appearance-state=idle`},
	}
	for _, c := range cases {
		if got := CallInfo(line, c.apps); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
	if got := SeizeInfo(line, 2); got != "<sip:2000@office.test>;appearance-index=2;appearance-state=seized" {
		t.Errorf("SeizeInfo %s", got)
	}
}

func TestParseIndex(t *testing.T) {
	cases := []struct {
		in   string
		want int
		ok   bool
	}{
		{"<sip:2000@d>;appearance-index=2", 2, true},
		{"<sip:2000@d> ; Appearance-Index = 7 ;foo", 7, true},
		{"<sip:2000@d>;appearance-index=*", 0, true},
		{"", 0, true},
		{"<sip:2000@d>;appearance-index=0", 0, false},
		{"<sip:2000@d>;appearance-index=99", 0, false},
		{"<sip:2000@d>;appearance-index=x", 0, false},
	}
	for _, c := range cases {
		n, ok := ParseIndex(c.in)
		if n != c.want || ok != c.ok {
			t.Errorf("ParseIndex(%q) = %d, %v; want %d, %v", c.in, n, ok, c.want, c.ok)
		}
	}
}

func TestDirection(t *testing.T) {
	cases := []struct{ sdp, want string }{
		{"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 6000 RTP/AVP 0\r\na=sendonly\r\n", "sendonly"},
		{"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 6000 RTP/AVP 0\r\na=inactive\r\n", "inactive"},
		{"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 6000 RTP/AVP 0\r\na=sendrecv\r\n", "sendrecv"},
		{"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 6000 RTP/AVP 0\r\n", "sendonly"},
		{"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 6000 RTP/AVP 0\r\n", ""},
	}
	for _, c := range cases {
		if got := Direction([]byte(c.sdp)); got != c.want {
			t.Errorf("Direction(%q) = %q, want %q", c.sdp, got, c.want)
		}
	}
}
