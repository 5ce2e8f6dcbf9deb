package events

import "testing"

// FuzzParseFeatureRequest: SUBSCRIBE bodies are outside input. Whatever
// parses must describe a known request.
func FuzzParseFeatureRequest(f *testing.F) {
	for _, s := range []string{yealinkSetDND, polySetDNDOff, setForwarding, "", "<a", "<SetDoNotDisturb/>",
		"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><SetDoNotDisturb><doNotDisturbOn>1</doNotDisturbOn></SetDoNotDisturb>"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := ParseFeatureRequest(body)
		if err != nil {
			return
		}
		if r.Kind != SetDoNotDisturb && r.Kind != SetForwarding {
			t.Fatalf("kind %d without error", r.Kind)
		}
		if r.Kind == SetForwarding && !knownForwarding(r.ForwardingType) {
			t.Fatalf("forwarding type %q without error", r.ForwardingType)
		}
		// What we echo back must stay well-formed ASCII.
		for _, c := range DNDEvent(r.Device, r.DND) {
			if c > 0x7e {
				t.Fatalf("non-ASCII byte in DNDEvent(%q)", r.Device)
			}
		}
	})
}

// FuzzParseEvent: Event headers are outside input.
func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{"dialog", "as-feature-event", "dialog;id=1", "check-sync;reboot=false", ";", "a b", "x;id="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		ev, ok := ParseEvent(v)
		if !ok {
			return
		}
		again, ok := ParseEvent(ev.String())
		if !ok || again != ev {
			t.Fatalf("%q → %+v → %q → %+v, %v", v, ev, ev.String(), again, ok)
		}
	})
}
