//go:build !linux

package main

import "syscall"

// childAttr: only Linux has a parent-death signal; elsewhere cleanup and
// the watchdogs stop the children.
func childAttr() *syscall.SysProcAttr { return nil }
