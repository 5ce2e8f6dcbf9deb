package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The generated office: a caller, a user with five phones, a department of
// 25 operators (one phone each) and the REGISTER-load users.
const (
	callerID    = "caller"
	callerExt   = "3999"
	forkID      = "forky"
	forkExt     = "3000"
	deptID      = "bench"
	deptExt     = "2500"
	forkPhones  = 5
	deptPhones  = 25 // the directory's maximum operators per department
	domain      = "bench.example.test"
	ringTimeout = "30s" // far above the answer delay: nobody times out
)

func operatorID(i int) string  { return fmt.Sprintf("op%02d", i+1) }
func operatorExt(i int) string { return fmt.Sprintf("40%02d", i+1) }
func regUserID(i int) string   { return fmt.Sprintf("reg%04d", i+1) }
func regUserExt(i int) string  { return fmt.Sprintf("5%04d", i+1) }

// officeYAML is the directory document for regUsers REGISTER-load users.
func officeYAML(regUsers int) string {
	var b strings.Builder
	b.WriteString("version: \"loadbench\"\nplan: pro\ntimezone: UTC\nusers:\n")
	user := func(id, name, ext string) {
		fmt.Fprintf(&b, "  - {id: %s, name: %q, extension: %q, license: talk, ring_timeout: %s}\n",
			id, name, ext, ringTimeout)
	}
	user(callerID, "Bench Caller", callerExt)
	user(forkID, "Fork Five", forkExt)
	ops := make([]string, deptPhones)
	for i := range deptPhones {
		ops[i] = operatorID(i)
		user(ops[i], "Operator "+operatorExt(i), operatorExt(i))
	}
	for i := range regUsers {
		user(regUserID(i), "Register "+regUserExt(i), regUserExt(i))
	}
	fmt.Fprintf(&b, "departments:\n  - {id: %s, name: Bench Desk, extension: %q, ring_timeout: %s, operators: [%s]}\n",
		deptID, deptExt, ringTimeout, strings.Join(ops, ", "))
	return b.String()
}

// configYAML is deskgate.yaml: UDP on one loopback port, everything else
// off, paths relative to the config file.
func configYAML(sipPort int) string {
	return fmt.Sprintf(`site: bench
domain: %s
state_dir: state
sip:
  listen: ["udp:127.0.0.1:%d"]
  register_max_expires: 3600
  register_min_expires: 60
provisioning: {listen: ""}
discovery: {mdns: false, pnp: false}
directory: {file: office.yaml}
control: {socket: control.sock}
log: {level: warn}
`, domain, sipPort)
}

// writeSetup writes office.yaml and deskgate.yaml into dir and returns the
// config path.
func writeSetup(dir string, regUsers, sipPort int) (string, error) {
	if err := os.WriteFile(filepath.Join(dir, "office.yaml"), []byte(officeYAML(regUsers)), 0o644); err != nil {
		return "", fmt.Errorf("write office: %w", err)
	}
	cfg := filepath.Join(dir, "deskgate.yaml")
	if err := os.WriteFile(cfg, []byte(configYAML(sipPort)), 0o644); err != nil {
		return "", fmt.Errorf("write config: %w", err)
	}
	return cfg, nil
}

// csvLine is one line of the scenarios' CSV: the [authentication] keyword
// is a whole field because sipp 3.6 does not expand [fieldN] inside it.
func csvLine(ext, password string, contactPort int) string {
	return fmt.Sprintf("%s;%s;127.0.0.1:%d;[authentication username=%s password=%s]\n",
		ext, password, contactPort, ext, password)
}

// writeCSV writes a sequential sipp -inf file (sipp wraps around at the end).
func writeCSV(path string, lines []string) error {
	if err := os.WriteFile(path, []byte("SEQUENTIAL\n"+strings.Join(lines, "")), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
