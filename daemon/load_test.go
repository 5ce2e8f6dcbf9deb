package daemon

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLoadConfigPaths(t *testing.T) {
	tests := []struct {
		name                string
		yaml                string
		env                 map[string]string
		wantState, wantSock string // "<dir>" is the config file's directory
	}{
		{name: "relative to the config file", yaml: "state_dir: st\ncontrol: {socket: c.sock}\n",
			wantState: "<dir>/st", wantSock: "<dir>/c.sock"},
		{name: "systemd dirs replace defaults", env: map[string]string{"STATE_DIRECTORY": "/var/lib/x", "RUNTIME_DIRECTORY": "/run/x"},
			wantState: "/var/lib/x", wantSock: "/run/x/control.sock"},
		{name: "systemd dirs keep explicit paths", yaml: "state_dir: /srv/dg\ncontrol: {socket: /tmp/dg.sock}\n",
			env: map[string]string{"STATE_DIRECTORY": "/var/lib/x", "RUNTIME_DIRECTORY": "/run/x"}, wantState: "/srv/dg", wantSock: "/tmp/dg.sock"},
		{name: "defaults", wantState: "/var/lib/deskgate", wantSock: "/run/deskgate/control.sock"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("STATE_DIRECTORY", "")
			t.Setenv("RUNTIME_DIRECTORY", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			p := filepath.Join(dir, "deskgate.yaml")
			if err := os.WriteFile(p, []byte("domain: x.test\n"+tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadConfig(p)
			if err != nil {
				t.Fatal(err)
			}
			sub := func(s string) string {
				if len(s) > 5 && s[:5] == "<dir>" {
					return dir + s[5:]
				}
				return s
			}
			if cfg.StateDir != sub(tt.wantState) || cfg.Control.Socket != sub(tt.wantSock) {
				t.Errorf("state %q socket %q; want %q %q", cfg.StateDir, cfg.Control.Socket, sub(tt.wantState), sub(tt.wantSock))
			}
		})
	}
}
