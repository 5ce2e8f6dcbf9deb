package ringplan

import (
	"strings"
	"testing"
)

func TestSanitizeDisplay(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "Alice Caller", "Alice Caller"},
		{"quotes and backslashes dropped", `Al"ice\ Caller`, "Alice Caller"},
		{"control characters dropped", "Alice\r\nVia: x", "AliceVia: x"},
		{"trimmed", "  Bob  ", "Bob"},
		{"bounded to 64 runes", strings.Repeat("é", 80), strings.Repeat("é", 64)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SanitizeDisplay(tt.in); got != tt.want {
				t.Errorf("SanitizeDisplay(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
