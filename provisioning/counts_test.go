package provisioning

import (
	"fmt"
	"strings"
	"testing"

	"deskgate/daemon/directory"
	"deskgate/daemon/directory/directorytest"
)

// countsDepartments is more departments than any model has keys or
// accounts for (the largest, the Fanvil X7, has 127 keys).
const countsDepartments = 70

// countsOffice is one operator of countsDepartments departments with one
// phone of every known model.
func countsOffice(t *testing.T) (*directory.Snapshot, map[string]string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("plan: pro\nusers:\n  - {id: olive, name: Olive Operator, extension: \"1102\", license: talk}\ndepartments:\n")
	for i := range countsDepartments {
		fmt.Fprintf(&b, "  - {id: d%d, name: Dept %d, extension: \"%d\", operators: [olive]}\n", i, i, 3000+i)
	}
	b.WriteString("phones:\n")
	macs := make(map[string]string)
	n := 0
	for _, v := range directory.Vendors() {
		for _, m := range directory.Models(v) {
			n++
			mac := fmt.Sprintf("02:00:00:00:%02x:%02x", n/256, n%256)
			macs[m] = mac
			fmt.Fprintf(&b, "  - {mac: %q, model: %s, user: olive}\n", mac, m)
		}
	}
	return directorytest.MustParse(t, b.String()), macs
}

// Every known model's renderer offers exactly the directory's key count
// (no renderer silently caps it lower), and a user with more keys and
// lines than the model has gets each of them placed or reported: the
// model's keys are all used, every candidate left out has its own warning,
// and lines beyond the model's accounts are reported as BLF keys.
func TestModelCountsReportWhatDoesNotFit(t *testing.T) {
	snap, macs := countsOffice(t)
	for model, mac := range macs {
		t.Run(model, func(t *testing.T) {
			opts, ok := layoutOptionsFor(model, "hq.test")
			if !ok {
				t.Fatal("no renderer")
			}
			if opts.Keys != directory.LineKeys(model) || opts.Keys < 1 || opts.Accounts < 1 {
				t.Fatalf("options %+v; directory says %d keys", opts, directory.LineKeys(model))
			}
			unlimited := opts
			unlimited.Keys = 1 << 20
			all, ok := Layout(snap, mac, unlimited)
			if !ok {
				t.Fatal("phone not found")
			}
			lay, _ := Layout(snap, mac, opts)
			if len(all.Keys) <= opts.Keys {
				t.Fatalf("only %d candidate keys: the test office is too small for %d keys", len(all.Keys), opts.Keys)
			}
			if len(lay.Keys) != opts.Keys {
				t.Errorf("%d keys placed, model has %d", len(lay.Keys), opts.Keys)
			}
			notFit, asBLF := 0, 0
			for _, w := range lay.Warnings {
				switch {
				case strings.Contains(w, "does not fit: "+model+" has "+fmt.Sprint(opts.Keys)+" line keys"):
					notFit++
				case strings.Contains(w, "shown as a BLF key: "+model+" supports "+fmt.Sprint(opts.Accounts)+" SIP accounts"):
					asBLF++
				default:
					t.Errorf("unexpected warning %q", w)
				}
			}
			if want := len(all.Keys) - opts.Keys; notFit != want {
				t.Errorf("%d keys reported as not fitting, want %d", notFit, want)
			}
			if want := countsDepartments + 1 - opts.Accounts; asBLF != want {
				t.Errorf("%d lines reported as BLF keys, want %d (%d accounts)", asBLF, want, opts.Accounts)
			}
			if len(lay.Accounts) > opts.Accounts {
				t.Errorf("%d accounts, model has %d", len(lay.Accounts), opts.Accounts)
			}
		})
	}
}

// The per-model line and key counts of the vendors whose renderers hold
// their own line counts (docs/provisioning.md "Key and line counts").
func TestModelLineCounts(t *testing.T) {
	tests := []struct {
		model          string
		keys, accounts int
	}{
		{"fanvil-x3u", 6, 6},
		{"fanvil-x4u", 33, 12},
		{"fanvil-x5u", 34, 16},
		{"fanvil-x6u", 65, 20},
		{"fanvil-x7", 127, 20},
		{"grandstream-gxp2160", 6, 6},
		{"grandstream-gxp2170", 12, 6},
		{"grandstream-grp2612", 4, 2},
		{"grandstream-grp2613", 6, 3},
		{"grandstream-grp2614", 4, 4},
		{"grandstream-grp2615", 10, 5},
		{"grandstream-grp2616", 6, 6},
		{"yealink-t33g", 12, 4},
		{"yealink-t43u", 15, 12},
		{"cisco-7861", 16, 16},
		{"cisco-8851", 10, 10},
		{"poly-vvx450", 12, 12},
		{"snom-d785", 12, 12},
	}
	for _, tt := range tests {
		o, ok := layoutOptionsFor(tt.model, "hq.test")
		if !ok || o.Keys != tt.keys || o.Accounts != tt.accounts {
			t.Errorf("%s: %d keys, %d accounts (known %v); want %d, %d", tt.model, o.Keys, o.Accounts, ok, tt.keys, tt.accounts)
		}
	}
}

// A full key set lands where each Fanvil model reads it: side keys, then
// every DSS page full, FuncKeyPageNum naming the pages written.
func TestFanvilFullPages(t *testing.T) {
	tests := []struct {
		model                string
		side, pages, perPage int
	}{
		{"fanvil-x4u", 3, 5, 6},
		{"fanvil-x5u", 4, 5, 6},
		{"fanvil-x6u", 5, 5, 12},
		{"fanvil-x7", 11, 4, 29},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			n := directory.LineKeys(tt.model)
			if n != tt.side+tt.pages*tt.perPage {
				t.Fatalf("directory says %d keys, want %d side + %d pages of %d", n, tt.side, tt.pages, tt.perPage)
			}
			keys := make([]Key, n)
			for i := range keys {
				keys[i] = Key{Type: KeyBLF, Account: 1, Extension: fmt.Sprint(4000 + i + 1), Label: "k"}
			}
			in := renderInput{Layout: PhoneLayout{MAC: "0c:38:3e:00:00:09", Model: tt.model, Keys: keys},
				SIP: sipServer{Host: "192.0.2.10", Port: 5060, Transport: "udp"}}
			f, ok := fanvil{}.phoneFile(fileRequest{Kind: kindMACCfg}, in)
			if !ok {
				t.Fatal("not rendered")
			}
			body := string(f.body)
			between := func(open, close string) string {
				_, rest, _ := strings.Cut(body, open)
				in, _, _ := strings.Cut(rest, close)
				return in
			}
			if side := between(`<dssSide index="1">`, "</dssSide>"); strings.Count(side, "<Fkey ") != tt.side ||
				!strings.Contains(side, fmt.Sprintf("<Value>%d@1/ba<", 4000+tt.side)) {
				t.Errorf("side keys:\n%s", side)
			}
			for p := 1; p <= tt.pages; p++ {
				page := between(fmt.Sprintf(`<internal index="%d">`, p), "</internal>")
				first := 4000 + tt.side + (p-1)*tt.perPage + 1
				last := first + tt.perPage - 1
				if strings.Count(page, "<Fkey ") != tt.perPage || !strings.Contains(page, fmt.Sprintf("<Value>%d@1/ba<", first)) ||
					!strings.Contains(page, fmt.Sprintf("<Fkey index=\"%d\">", tt.perPage)) || !strings.Contains(page, fmt.Sprintf("<Value>%d@1/ba<", last)) {
					t.Errorf("page %d (keys %d–%d):\n%s", p, first, last, page)
				}
			}
			if strings.Contains(body, fmt.Sprintf(`<internal index="%d">`, tt.pages+1)) {
				t.Errorf("page %d written", tt.pages+1)
			}
			if !strings.Contains(body, fmt.Sprintf("<FuncKeyPageNum>%d</FuncKeyPageNum>", tt.pages)) {
				t.Errorf("FuncKeyPageNum is not %d", tt.pages)
			}
		})
	}
}
