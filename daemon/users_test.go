package daemon

import (
	"slices"
	"testing"
)

func TestSetAway(t *testing.T) {
	tests := []struct {
		name string
		away []string
		key  string
		on   bool
		want []string
	}{
		{"one on", nil, "support", true, []string{"support"}},
		{"second on", []string{"support"}, "sales", true, []string{"support", "sales"}},
		{"same twice", []string{"support"}, "support", true, []string{"support"}},
		{"one off", []string{"support", "sales"}, "support", false, []string{"sales"}},
		{"all on replaces departments", []string{"support"}, "*", true, []string{"*"}},
		{"department on while away from all", []string{"*"}, "support", true, []string{"*"}},
		{"all off clears departments", []string{"support", "sales"}, "*", false, nil},
		{"off when not away", nil, "support", false, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.away)
			got := setAway(tt.away, tt.key, tt.on)
			if !slices.Equal(got, tt.want) {
				t.Errorf("setAway(%v, %q, %v) = %v, want %v", tt.away, tt.key, tt.on, got, tt.want)
			}
			if !slices.Equal(in, tt.away) {
				t.Errorf("input modified: %v", tt.away)
			}
		})
	}
}
