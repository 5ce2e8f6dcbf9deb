package events

import "testing"

func TestParseEvent(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Event
		ok   bool
	}{
		{name: "plain", in: "dialog", want: Event{Package: "dialog"}, ok: true},
		{name: "case and spaces", in: "  As-Feature-Event ", want: Event{Package: "as-feature-event"}, ok: true},
		{name: "id parameter", in: "dialog;id=42", want: Event{Package: "dialog", ID: "42"}, ok: true},
		{name: "other parameters ignored", in: "check-sync;reboot=false", want: Event{Package: "check-sync"}, ok: true},
		{name: "quoted id", in: `dialog; ID="a1"`, want: Event{Package: "dialog", ID: "a1"}, ok: true},
		{name: "empty", in: "", ok: false},
		{name: "only parameters", in: ";id=1", ok: false},
		{name: "not a token", in: "dia log", ok: false},
		{name: "bad id", in: "dialog;id=a b", ok: false},
		{name: "too long", in: "dialog;x=" + string(make([]byte, 300)), ok: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseEvent(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Errorf("ParseEvent(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEventString(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want string
	}{
		{name: "no id", ev: Event{Package: "dialog"}, want: "dialog"},
		{name: "id", ev: Event{Package: "dialog", ID: "7"}, want: "dialog;id=7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.ev.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSubscriptionState(t *testing.T) {
	tests := []struct {
		name, got, want string
	}{
		{name: "active", got: Active(3600), want: "active;expires=3600"},
		{name: "active never negative", got: Active(-5), want: "active;expires=0"},
		{name: "terminated with reason", got: Terminated(ReasonTimeout), want: "terminated;reason=timeout"},
		{name: "terminated without reason", got: Terminated(""), want: "terminated"},
		{name: "check-sync event", got: CheckSync, want: "check-sync;reboot=false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
		})
	}
}
