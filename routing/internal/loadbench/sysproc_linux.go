//go:build linux

package main

import "syscall"

// childAttr makes the kernel kill a child if loadbench itself dies
// (even by SIGKILL), so no sipp or deskgated outlives the run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
