package swtpmtest

import "syscall"

// sysProcAttr makes the kernel send SIGTERM to swtpm when the process that
// started it dies without calling Stop (a test binary killed by a timeout).
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
