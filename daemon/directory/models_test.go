package directory_test

import (
	"slices"
	"testing"

	"deskgate/daemon/directory"
)

func TestModels(t *testing.T) {
	tests := []struct {
		model  string
		vendor string // "" = unknown model
		keys   int
	}{
		{"yealink-t54w", "yealink", 27},
		{"Yealink-T54W", "yealink", 27},
		{" poly-vvx450 ", "poly", 12},
		{"poly-edge-e350", "poly", 8},
		{"grandstream-grp2614", "grandstream", 4},
		{"snom-d785", "snom", 12},
		{"cisco-8851", "cisco", 10},
		{"cisco-7811", "cisco", 1},
		{"fanvil-x6u", "fanvil", 65},
		{"fanvil-x4u", "fanvil", 33},
		{"fanvil-x5u", "fanvil", 34},
		{"fanvil-x7", "fanvil", 127},
		{"fanvil-x3u", "fanvil", 6},
		{"grandstream-grp2615", "grandstream", 10},
		{"grandstream-gxp2170", "grandstream", 12},
		{"poly-vvx601", "poly", 16},
		{"yealink-t43u", "yealink", 15},
		{"yealink-t44w", "yealink", 24},
		{"yealink-t33g", "yealink", 12},
		{"yealink-t99", "", 0},
		{"acme-1000", "", 0},
		{"yealink", "", 0},
		{"t54w", "", 0},
		{"", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.model, func(t *testing.T) {
			if got := directory.Vendor(tc.model); got != tc.vendor {
				t.Errorf("Vendor = %q, want %q", got, tc.vendor)
			}
			if got := directory.KnownModel(tc.model); got != (tc.vendor != "") {
				t.Errorf("KnownModel = %v", got)
			}
			if got := directory.LineKeys(tc.model); got != tc.keys {
				t.Errorf("LineKeys = %d, want %d", got, tc.keys)
			}
		})
	}
}

func TestModelLists(t *testing.T) {
	vendors := directory.Vendors()
	if want := []string{"cisco", "fanvil", "grandstream", "poly", "snom", "yealink"}; !slices.Equal(vendors, want) {
		t.Fatalf("Vendors() = %q, want %q", vendors, want)
	}
	for _, v := range vendors {
		models := directory.Models(v)
		if len(models) == 0 || !slices.IsSorted(models) {
			t.Errorf("Models(%q) = %q: want a sorted non-empty list", v, models)
		}
		for _, m := range models {
			if directory.Vendor(m) != v || directory.NormalizeModel(m) != m {
				t.Errorf("Models(%q) lists %q, which is not a normalised %s model", v, m, v)
			}
		}
	}
	if directory.Models("acme") != nil {
		t.Error("Models of an unknown vendor must be nil")
	}
}
