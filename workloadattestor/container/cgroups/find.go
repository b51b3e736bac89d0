package cgroups

import (
	"fmt"
	"path/filepath"
	"strconv"

	"github.com/hwattest/hwattest/internal/readfile"
)

// Find returns the container process pid runs in, from proc/PID/cgroup and,
// only when that names no cgroup, proc/PID/mountinfo. proc is the procfs
// mount, normally "/proc" (a host's /proc mounted elsewhere when the agent
// runs in a container). ok is false when the process runs in no container.
// A process that exits meanwhile is an error wrapping fs.ErrNotExist.
func Find(proc string, pid int) (c Container, ok bool, err error) {
	dir := filepath.Join(proc, strconv.Itoa(pid))
	cgroup, err := readfile.Limited(filepath.Join(dir, "cgroup"), MaxCgroupSize)
	if err == nil {
		c, ok, err = identify(cgroup, func() ([]byte, error) {
			return readfile.Limited(filepath.Join(dir, "mountinfo"), MaxMountinfoSize)
		})
	}
	if err != nil {
		return Container{}, false, fmt.Errorf("cgroups: pid %d: %w", pid, err)
	}
	return c, ok, nil
}

// Identify is Find on the contents of /proc/PID/cgroup and
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
	chains := make([][]link, 0, len(entries))
	informative := false
	for _, e := range entries {
		chains = append(chains, chain(e.Path))
		informative = informative || e.Path != "/"
	}
	if informative {
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
	chains = chains[:0]
	for _, m := range mounts {
		if m.FSType == "cgroup" || m.FSType == "cgroup2" {
			chains = append(chains, chain(m.Root))
		}
	}
	if c, ok, err := merge(chains); ok || err != nil {
		return c, ok, err
	}
	var e evidence
	for _, m := range mounts {
		e.add(m)
	}
	return e.container()
}
