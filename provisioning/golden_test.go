package provisioning

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "update golden files")

// goldenRoles are the golden cases: a role and the user playing it in
// testdata/office.yaml.
var goldenRoles = []struct{ name, user string }{
	{"plain", "pat"},      // a user with no department and no executive
	{"operator", "olive"}, // operator of two departments
	{"assistant", "ann"},  // assistant of two executives with the voicemail permission
	{"fewkeys", "tim"},    // operator of two departments on the vendor's smallest model
}

// goldenVendors lists each supported vendor with the file extension of its
// main per-phone file and its other files (path template with %s = the
// plain user's compact MAC, golden name, User-Agent naming that MAC).
var goldenVendors = []struct {
	vendor string
	ext    string
	extra  func(mac string) []goldenExtra
}{
	{"yealink", "cfg", func(mac string) []goldenExtra {
		ua := "Yealink SIP-T54W 96.86.0.100 " + mac
		return []goldenExtra{
			{"/" + mac + ".boot", "boot.boot", ""},
			{"/y000000000096.cfg", "common.cfg", ua},
		}
	}},
	{"poly", "cfg", func(mac string) []goldenExtra {
		ua := "FileTransport PolycomVVX-VVX_450-UA/6.4.3.5027 (SN:" + mac + ") Type/Application"
		return []goldenExtra{
			{"/" + mac + ".cfg", "master.cfg", ""},
			{"/000000000000.cfg", "common.cfg", ua},
		}
	}},
	{"grandstream", "xml", nil},
	{"snom", "xml", nil},
	{"cisco", "xml", func(mac string) []goldenExtra {
		return []goldenExtra{{"/8851-3PCC.xml", "bootstrap.xml", "Cisco-CP-8851-3PCC/11.3.7 (" + mac + ")"}}
	}},
	{"fanvil", "xml", nil},
}

type goldenExtra struct{ path, golden, ua string }

func TestGolden(t *testing.T) {
	snap := goldenOffice(t)
	s, _ := newTestServer(t, snap, func(o *Options) { o.RateBurst = 1000 }) // one source, fixed clock
	for _, v := range goldenVendors {
		for _, role := range goldenRoles {
			t.Run(v.vendor+"/"+role.name, func(t *testing.T) {
				p := phoneOf(t, snap, role.user, v.vendor)
				w := get(s.Handler(), phonePath(p), "")
				checkGolden(t, w.Code, w.Body.Bytes(), filepath.Join(v.vendor, role.name+"."+v.ext))
			})
		}
		if v.extra == nil {
			continue
		}
		plain := compactMAC(phoneOf(t, snap, "pat", v.vendor).MAC)
		for _, x := range v.extra(plain) {
			t.Run(v.vendor+"/"+strings.TrimSuffix(x.golden, filepath.Ext(x.golden)), func(t *testing.T) {
				w := get(s.Handler(), x.path, x.ua)
				checkGolden(t, w.Code, w.Body.Bytes(), filepath.Join(v.vendor, x.golden))
			})
		}
	}
}

func checkGolden(t *testing.T, code int, got []byte, name string) {
	t.Helper()
	if code != http.StatusOK {
		t.Fatalf("status %d, want 200: %s", code, got)
	}
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run TestGolden -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -run TestGolden -update to accept):\n%s", name, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines of two texts.
func lineDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	var b strings.Builder
	shown := 0
	for i := 0; i < max(len(wl), len(gl)) && shown < 10; i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			b.WriteString("line " + strconv.Itoa(i+1) + ":\n  want: " + w + "\n  got:  " + g + "\n")
			shown++
		}
	}
	return b.String()
}
