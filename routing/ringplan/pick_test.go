package ringplan

import (
	"slices"
	"testing"
)

func TestPickFinal(t *testing.T) {
	tests := []struct {
		name     string
		statuses []int
		want     int
	}{
		{name: "nothing received is a timeout", statuses: nil, want: 408},
		{name: "only provisional and junk ignored", statuses: []int{180, 0, 99, 700, -1}, want: 408},
		{name: "only phone busy", statuses: []int{486}, want: 486},
		{name: "single 404", statuses: []int{404}, want: 404},
		{name: "2xx beats everything", statuses: []int{603, 200, 486}, want: 200},
		{name: "6xx beats 4xx", statuses: []int{486, 603, 480}, want: 603},
		{name: "6xx beats 3xx", statuses: []int{302, 600}, want: 600},
		{name: "lowest 6xx", statuses: []int{606, 603, 600}, want: 600},
		{name: "3xx beats 4xx", statuses: []int{486, 302}, want: 302},
		{name: "4xx beats 5xx", statuses: []int{500, 480}, want: 480},
		{name: "401 preferred in 4xx", statuses: []int{404, 486, 401}, want: 401},
		{name: "407 preferred over 404", statuses: []int{404, 407}, want: 407},
		{name: "401 before 407 by code", statuses: []int{407, 401}, want: 401},
		{name: "415 preferred over 404", statuses: []int{404, 415}, want: 415},
		{name: "420 preferred over 486", statuses: []int{486, 420}, want: 420},
		{name: "484 preferred over 480", statuses: []int{480, 484}, want: 484},
		{name: "401 before 484", statuses: []int{484, 401}, want: 401},
		{name: "486 preferred over 480 and 408", statuses: []int{408, 480, 486}, want: 486},
		{name: "otherwise lowest 4xx", statuses: []int{487, 480, 408}, want: 408},
		{name: "timeouts and busy", statuses: []int{408, 408, 486}, want: 486},
		{name: "503 alone becomes 500", statuses: []int{503}, want: 500},
		{name: "503 ranks last in 5xx", statuses: []int{503, 504}, want: 504},
		{name: "503 loses to 4xx", statuses: []int{503, 480}, want: 480},
		{name: "lowest 5xx", statuses: []int{502, 500}, want: 500},
		{name: "6xx beats 503", statuses: []int{503, 604}, want: 604},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PickFinal(tt.statuses); got != tt.want {
				t.Errorf("PickFinal(%v) = %d, want %d", tt.statuses, got, tt.want)
			}
			// the choice must not depend on arrival order
			rev := slices.Clone(tt.statuses)
			slices.Reverse(rev)
			if got := PickFinal(rev); got != tt.want {
				t.Errorf("PickFinal(%v) = %d, want %d (reversed order)", rev, got, tt.want)
			}
		})
	}
}
