package routing_test

import (
	"strings"
	"testing"
	"time"

	"deskgate/routing"
	"deskgate/routing/presence"
	"deskgate/routing/sipptest"
)

// TestSippFeatureCodes: issue 4 rule 4. Feature codes dialled from a phone
// change DND and away (all departments, or one by *45<extension>), answer
// with a final non-2xx whose reason phrase states the new state, persist
// in the store, take effect for the next call, and reach the change feed
// like control changes do.
func TestSippFeatureCodes(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()))
	feed, stop := h.presence.Subscribe(16)
	defer stop()
	dial := func(code string) string {
		t.Helper()
		p := sipptest.Start(t, sipptest.Options{Name: "olga-dials-" + code, Scenario: scenario("uac_reject.xml"),
			Remote: h.udp, Service: code, Inf: h.usersCSV(userLine("1020", h.password("olga"), 5999)),
			Timeout: 10 * time.Second})
		wantExit(t, p)
		return finalStatus(p)
	}
	steps := []struct {
		code, want string
		dnd        bool
		away       string // olga's away list, comma-joined
	}{
		{"*78", "SIP/2.0 480 DND on", true, ""},
		{"*452000", "SIP/2.0 480 Away on support", true, "support"},
		{"*79", "SIP/2.0 480 DND off", false, "support"},
		{"*45", "SIP/2.0 480 Away on", false, "*"},
		{"*462100", "SIP/2.0 480 Away off sales", false, "support"},
		{"*46", "SIP/2.0 480 Away off", false, ""},
		{"*452200", "SIP/2.0 403 Not An Operator Of shut", false, ""},
		{"*459999", "SIP/2.0 404 Unknown Department", false, ""},
		{"*99", "SIP/2.0 404 Unknown Feature Code", false, ""},
	}
	changes := 0
	for _, st := range steps {
		if got := dial(st.code); got != st.want {
			t.Errorf("%s answered %q, want %q", st.code, got, st.want)
		}
		stored, err := h.db.Presence("olga")
		if err != nil {
			t.Fatal(err)
		}
		if stored.DND != st.dnd || strings.Join(stored.Away, ",") != st.away {
			t.Errorf("after %s the store holds dnd=%v away=%q, want dnd=%v away=%q", st.code, stored.DND, stored.Away, st.dnd, st.away)
		}
		if strings.HasPrefix(st.want, "SIP/2.0 480") {
			changes++
		}
	}
	for i := range changes {
		select {
		case c := <-feed:
			if c.User != "olga" || c.By != presence.ByFeatureCode || c.Seq != uint64(i+1) {
				t.Errorf("change %d: %+v", i, c)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("feed delivered %d of %d changes", i, changes)
		}
	}
	// A control change reaches the same feed.
	setPresence(t, h, "olga", dndOn)
	if c := <-feed; c.By != presence.ByControl || !c.New.DND {
		t.Errorf("control change on the feed: %+v", c)
	}
	select {
	case c := <-feed:
		t.Errorf("unexpected change %+v", c)
	default:
	}
}

// TestSippFeatureCodeTakesEffect: DND set by a feature code silences the
// phone for the next call; codes come from routing.Options.FeatureCodes.
func TestSippFeatureCodeTakesEffect(t *testing.T) {
	h := newHarnessOffice(t, teamOffice(time.Now()), func(o *routing.Options) {
		o.FeatureCodes = func() presence.Codes { return presence.Codes{DNDOn: "*11", DNDOff: "*10"} }
	})
	phone := h.phone("olga-phone", "uas_answer.xml", "1020", "olga")
	code := sipptest.Start(t, sipptest.Options{Name: "olga-dnd", Scenario: scenario("uac_reject.xml"),
		Remote: h.udp, Service: "*11", Inf: h.usersCSV(userLine("1020", h.password("olga"), 5999)), Timeout: 10 * time.Second})
	wantExit(t, code)
	if got := finalStatus(code); got != "SIP/2.0 480 DND on" {
		t.Fatalf("*11 answered %q", got)
	}
	if n := len(phone.Received("INVITE")); n != 0 {
		t.Fatalf("the feature code rang the phone")
	}
	caller := h.call("bob-caller", "uac_reject.xml", "1002", "bob", "1020")
	wantExit(t, caller)
	if got := finalStatus(caller); !strings.HasPrefix(got, "SIP/2.0 480") {
		t.Errorf("call to olga in DND: %q, want 480", got)
	}
	phone.Stop()
	if n := len(phone.Received("INVITE")); n != 0 {
		t.Errorf("olga's phone rang in DND")
	}
	wantHistory(t, h, "olga", "in 1002 missed")
	if !h.presence.DND("olga") {
		t.Error("DND not kept")
	}
}
