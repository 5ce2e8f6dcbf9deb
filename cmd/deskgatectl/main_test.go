package main

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		name      string
		argv      []string
		flags     map[string]string
		args      []string
		wantError bool
	}{
		{name: "flags after words", argv: []string{"away", "alice", "on", "--department", "support", "--json"},
			flags: map[string]string{"department": "support", "json": "true"}, args: []string{"away", "alice", "on"}},
		{name: "equals form", argv: []string{"--socket=/tmp/s", "status"},
			flags: map[string]string{"socket": "/tmp/s"}, args: []string{"status"}},
		{name: "single dash", argv: []string{"-json", "status"}, flags: map[string]string{"json": "true"}, args: []string{"status"}},
		{name: "double dash ends flags", argv: []string{"check", "--", "--odd-name.yaml"},
			flags: map[string]string{}, args: []string{"check", "--odd-name.yaml"}},
		{name: "value flag without value", argv: []string{"status", "--socket"}, wantError: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags, args, err := splitArgs(tt.argv)
			if tt.wantError {
				if err == nil {
					t.Fatalf("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(flags, tt.flags) || !reflect.DeepEqual(args, tt.args) {
				t.Errorf("got %v %v, want %v %v", flags, args, tt.flags, tt.args)
			}
		})
	}
}

func TestRunUsage(t *testing.T) {
	sock := "--socket=" + filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name   string
		argv   []string
		code   int
		stderr string
	}{
		{"no command", nil, 2, "usage:"},
		{"unknown command", []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"dnd bad state", []string{sock, "dnd", "alice", "maybe"}, 2, "want on or off"},
		{"department without state", []string{sock, "away", "alice", "--department", "x"}, 2, "--department goes with on or off"},
		{"dnd with department", []string{sock, "dnd", "alice", "on", "--department", "x"}, 2, "--department is for away"},
		{"extra argument", []string{sock, "status", "now"}, 2, `unexpected argument "now"`},
		{"missing argument", []string{sock, "history"}, 2, "missing argument"},
		{"rearm without a MAC", []string{sock, "rearm"}, 2, "usage: deskgatectl rearm MAC [--address IP]"},
		{"rearm address without a value", []string{sock, "rearm", "00:15:65:00:00:01", "--address"}, 2, "--address needs a value"},
		{"daemon not running", []string{sock, "status"}, 1, "deskgated is not running"},
		{"unblock without target", []string{sock, "unblock"}, 2, "missing argument"},
		{"unblock two targets", []string{sock, "unblock", "alice", "bob"}, 2, `unexpected argument "bob"`},
		{"blocks without daemon", []string{sock, "blocks"}, 1, "deskgated is not running"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tt.argv, &out, &errb)
			if code != tt.code || !strings.Contains(errb.String(), tt.stderr) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errb.String(), tt.code, tt.stderr)
			}
		})
	}
}
