package swtpmtest

// PID returns the process ID of the running swtpm, or 0.
func PID(t *TPM) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.proc == nil {
		return 0
	}
	return t.proc.cmd.Process.Pid
}
