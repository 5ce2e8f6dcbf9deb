package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"deskgate/daemon/directory"
)

// TestOfficeValid: the generated office passes the daemon's validation and
// has what the phases dial.
func TestOfficeValid(t *testing.T) {
	snap, err := directory.Parse([]byte(officeYAML(3)))
	if err != nil {
		t.Fatalf("generated office rejected: %v\n%s", err, officeYAML(3))
	}
	dept, ok := snap.Department(deptID)
	if !ok || dept.Extension != deptExt || len(dept.Operators) != deptPhones {
		t.Fatalf("department = %+v, want %s with %d operators", dept, deptExt, deptPhones)
	}
	tests := []struct{ name, ext, user string }{
		{"caller", callerExt, callerID},
		{"fork user", forkExt, forkID},
		{"first operator", operatorExt(0), operatorID(0)},
		{"last operator", operatorExt(deptPhones - 1), operatorID(deptPhones - 1)},
		{"register user", regUserExt(2), regUserID(2)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := snap.ByExtension(tc.ext)
			if !ok || e.User == nil || e.User.ID != tc.user {
				t.Errorf("extension %s = %+v, want user %s", tc.ext, e, tc.user)
			}
		})
	}
	if !slices.Contains(dept.Operators, operatorID(7)) || userOfExt(operatorExt(7)) != operatorID(7) {
		t.Errorf("operator 8 not in the department or not mapped back")
	}
}

func TestParseSippDuration(t *testing.T) {
	tests := []struct {
		name, in string
		want     time.Duration
	}{
		{"zero", "00:00:00:000000", 0},
		{"milliseconds", "00:00:00:004000", 4 * time.Millisecond},
		{"all fields", "01:02:03:000500", time.Hour + 2*time.Minute + 3*time.Second + 500*time.Microsecond},
		{"garbage", "n/a", 0},
		{"empty", "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := parseSippDuration(tc.in); got != tc.want {
				t.Errorf("parseSippDuration(%q) = %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

// TestStats reads the last line of a -trace_stat file (sipp 3.6 layout,
// trimmed to the columns used).
func TestStats(t *testing.T) {
	dir := t.TempDir()
	stat := "StartTime;SuccessfulCall(C);FailedCall(C);Retransmissions(C);FailedUnexpectedMessage(C);" +
		"ResponseTimering(P);ResponseTimering(C);ResponseTimeringStDev(C);ResponseTimeRepartitionring;\n" +
		"2026-11-26\t14:11:35;0;0;0;0;00:00:00:000000;00:00:00:000000;00:00:00:000000;;\n" +
		"2026-11-26\t14:11:45;1198;2;7;1;00:00:00:002000;00:00:00:003000;00:00:00:001000;;\n"
	if err := os.WriteFile(filepath.Join(dir, "stat.csv"), []byte(stat), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &sippProc{name: "caller", dir: dir}
	st, err := p.stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Successful != 1198 || st.Failed != 2 || st.Retrans != 7 || st.Unexpected != 1 {
		t.Errorf("counters = %+v", st)
	}
	if got := st.RTD["ring"]; got != 3*time.Millisecond {
		t.Errorf("mean ring = %v, want the cumulative 3ms", got)
	}
	if len(st.RTD) != 1 {
		t.Errorf("rtds = %v, want only ring", st.RTD)
	}
	empty := &sippProc{name: "none", dir: t.TempDir()}
	if _, err := empty.stats(); err == nil || !strings.Contains(err.Error(), "none") {
		t.Errorf("missing stat file: err %v", err)
	}
}

// TestSampleProc reads this test process's own /proc entry.
func TestSampleProc(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	s, err := sampleProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.PeakKB <= 0 || s.RSSKB <= 0 || s.PeakKB < s.RSSKB || s.AnonKB <= 0 {
		t.Errorf("sample = %+v", s)
	}
	if _, err := sampleProc(-1); err == nil {
		t.Error("sample of no process succeeded")
	}
}

func TestCSVLine(t *testing.T) {
	got := csvLine("4001", "pw", 5062)
	want := "4001;pw;127.0.0.1:5062;[authentication username=4001 password=pw]\n"
	if got != want {
		t.Errorf("csvLine = %q, want %q", got, want)
	}
}

// TestSumReceived reads a -trace_counts file (sipp 3.6 layout, trimmed):
// every <recv> of a 503 counts, nothing else.
func TestSumReceived(t *testing.T) {
	csv := "CurrentTime;ElapsedTime;0_INVITE_Sent;1_503_Recv;1_503_Unexp;2_180_Recv;5_503_Recv;5_503_Retrans;\n" +
		"2026-12-02\t11:54:48;00:00:00:002000;0;0;0;0;0;0;\n" +
		"2026-12-02\t11:54:58;00:00:10:000000;2000;12;1;900;30;4;\n"
	if got := sumReceived(csv, "503"); got != 42 {
		t.Errorf("503s = %d, want 42", got)
	}
	if got := sumReceived(csv, "180"); got != 900 {
		t.Errorf("180s = %d, want 900", got)
	}
	if got := sumReceived("CurrentTime;\n", "503"); got != 0 {
		t.Errorf("header only = %d", got)
	}
}

func TestRSSTrend(t *testing.T) {
	if got := rssTrend(nil); got != "" {
		t.Errorf("no samples: %q", got)
	}
	kb := make([]int64, 30)
	for i := range kb {
		kb[i] = 1024 * int64(10+i/10) // 10, 11, 12 MiB
	}
	want := "RSS first 10s 10.0 MiB, last 10s 12.0 MiB, max 12.0 MiB (30 samples)"
	if got := rssTrend(kb); got != want {
		t.Errorf("rssTrend = %q, want %q", got, want)
	}
}

func TestCommandPins(t *testing.T) {
	for _, tc := range []struct {
		cpus string
		want []string
	}{
		{"", []string{"sipp", "-m", "1"}},
		{"1-3", []string{"taskset", "-c", "1-3", "sipp", "-m", "1"}},
	} {
		got := command(tc.cpus, "sipp", "-m", "1").Args
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("cpus %q: %q, want %q", tc.cpus, got, tc.want)
		}
	}
	if _, err := exec.LookPath("taskset"); err != nil {
		t.Skip("no taskset")
	}
	// The pinned process is the command itself (taskset execs it) and
	// runs only on the CPUs given.
	out, err := command("0", "grep", "Cpus_allowed_list", "/proc/self/status").Output()
	if err != nil {
		t.Fatal(err)
	}
	if f := strings.Fields(string(out)); len(f) != 2 || f[1] != "0" {
		t.Errorf("pinned to %q, want CPU 0", out)
	}
}
