package cgroups

// NewProcess is a Process with the given contents of /proc/PID/cgroup and
// /proc/PID/mountinfo and namespaces, for tests of Confirm.
func NewProcess(pid int, cgroup, mountinfo []byte, pidNS, mntNS NS) (*Process, error) {
	entries, err := parseCgroup(cgroup)
	if err != nil {
		return nil, err
	}
	return &Process{PID: pid, PIDNS: pidNS, MntNS: mntNS, entries: entries, mountinfo: mountinfo}, nil
}
