package cgroups

import (
	"fmt"
)

// Find returns the container process pid names: Read, then Container. proc
// is the procfs mount, normally "/proc" (a host's /proc mounted elsewhere
// when the agent runs in a container). ok is false when the process names
// no container. A process that exits meanwhile is an error wrapping
// fs.ErrNotExist. What it returns is only what the process shows: see
// Confirm.
func Find(proc string, pid int) (c Container, ok bool, err error) {
	p, err := Read(proc, pid)
	if err != nil {
		return Container{}, false, err
	}
	return p.Container()
}

// Identify is Container on the contents of /proc/PID/cgroup and
// /proc/PID/mountinfo (which it reads only when the cgroup file names no
// cgroup; it may be nil otherwise).
func Identify(cgroup, mountinfo []byte) (Container, bool, error) {
	c, ok, err := identify(cgroup, func() ([]byte, error) { return mountinfo, nil })
	if err != nil {
		return Container{}, false, fmt.Errorf("cgroups: %w", err)
	}
	return c, ok, nil
}

func identify(cgroup []byte, mountinfo func() ([]byte, error)) (Container, bool, error) {
	entries, err := parseCgroup(cgroup)
	if err != nil {
		return Container{}, false, err
	}
	return identifyEntries(entries, mountinfo)
}

// informative reports whether a cgroup line shows more than "/".
func informative(entries []CgroupEntry) bool {
	for _, e := range entries {
		if e.Path != "/" {
			return true
		}
	}
	return false
}

func identifyEntries(entries []CgroupEntry, mountinfo func() ([]byte, error)) (Container, bool, error) {
	if informative(entries) {
		chains := make([][]link, 0, len(entries))
		for _, e := range entries {
			chains = append(chains, chain(e.Path))
		}
		return merge(chains)
	}
	// Every line is "/": the process is at the root of the reader's
	// cgroup namespace, and only its mounts can tell.
	b, err := mountinfo()
	if err != nil {
		return Container{}, false, err
	}
	mounts, err := parseMountinfo(b)
	if err != nil {
		return Container{}, false, err
	}
	var chains [][]link
	for _, m := range mounts {
		if m.FSType == "cgroup" || m.FSType == "cgroup2" {
			chains = append(chains, chain(m.Root))
		}
	}
	if c, ok, err := merge(chains); ok || err != nil {
		c.FromMounts = ok
		return c, ok, err
	}
	var e evidence
	for _, m := range mounts {
		e.add(m)
	}
	return e.container()
}
