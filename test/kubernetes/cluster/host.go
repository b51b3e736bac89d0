package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// cgroupFS is where cgroup file systems are mounted.
const cgroupFS = "/sys/fs/cgroup"

// containerLogsDir is where the kubelet links container logs; the path is
// fixed in the kubelet (not configurable).
const containerLogsDir = "/var/log/containers"

// ipForwardPath is the IPv4 forwarding switch the bridge CNI plugin turns on
// for a gateway bridge.
const ipForwardPath = "/proc/sys/net/ipv4/ip_forward"

// cgroupHierarchies returns the roots of the mounted cgroup hierarchies: the
// unified one of cgroup v2 (at /sys/fs/cgroup itself) or each v1 hierarchy
// and the hybrid unified one under it.
func cgroupHierarchies() []string {
	if _, err := os.Stat(filepath.Join(cgroupFS, "cgroup.procs")); err == nil {
		return []string{cgroupFS}
	}
	var roots []string
	entries, _ := os.ReadDir(cgroupFS)
	for _, e := range entries {
		h := filepath.Join(cgroupFS, e.Name())
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err == nil {
			roots = append(roots, h)
		}
	}
	return roots
}

// makeCgroup makes cgroup rel (one level, under the root) in every
// hierarchy, as the kubelet requires its cgroup root to exist.
func makeCgroup(rel string) error {
	roots := cgroupHierarchies()
	if len(roots) == 0 {
		return fmt.Errorf("no cgroup hierarchy under %s", cgroupFS)
	}
	for _, h := range roots {
		d := filepath.Join(h, rel)
		if err := os.Mkdir(d, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
		// A v1 cpuset cgroup takes no process until it has CPUs and
		// memory nodes, which it does not inherit.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			b, err := os.ReadFile(filepath.Join(d, f))
			if err != nil || len(bytes.TrimSpace(b)) > 0 {
				continue
			}
			parent, err := os.ReadFile(filepath.Join(h, f))
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(d, f), parent, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// cgroupDirs returns every cgroup directory at or below rel in every
// hierarchy, deepest first.
func cgroupDirs(rel string) []string {
	var dirs []string
	for _, h := range cgroupHierarchies() {
		_ = filepath.WalkDir(filepath.Join(h, rel), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
	}
	slices.SortFunc(dirs, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	return dirs
}

// removeCgroups kills every process left in cgroup rel's tree and removes
// the tree, deepest first. It returns the directories it could not remove.
func removeCgroups(rel string) []string {
	for _, d := range cgroupDirs(rel) {
		b, _ := os.ReadFile(filepath.Join(d, "cgroup.procs"))
		for _, f := range strings.Fields(string(b)) {
			if pid, err := strconv.Atoi(f); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	var left []string
	_ = poll(10*time.Second, func() error {
		left = left[:0]
		for _, d := range cgroupDirs(rel) {
			if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				left = append(left, d)
			}
		}
		if len(left) > 0 {
			return errors.New("cgroups left")
		}
		return nil
	})
	return left
}

// mountsUnder returns the mount points at or below dir, in mount order.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// Field 5 is the mount point, octal-escaped; the cluster's
		// directories have no characters that need escaping.
		if mp := f[4]; mp == dir || strings.HasPrefix(mp, dir+"/") {
			points = append(points, mp)
		}
	}
	return points
}

// unmountUnder detaches every mount at or below dir, latest first, and
// returns those still there.
func unmountUnder(dir string) []string {
	points := mountsUnder(dir)
	for i := len(points) - 1; i >= 0; i-- {
		_ = syscall.Unmount(points[i], syscall.MNT_DETACH)
	}
	return mountsUnder(dir)
}

// processesNaming returns the PIDs of processes whose command line contains
// s (containerd's shims name their containerd's socket, which is under the
// cluster's directory).
func processesNaming(s string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(b, []byte(s)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// linkExists reports whether a network interface exists.
func linkExists(name string) bool {
	_, err := os.Stat(filepath.Join("/sys/class/net", name))
	return err == nil
}

// removeLogLinks removes the links in /var/log/containers that point into
// dir, and the directory itself when the cluster created it and it is
// empty.
func removeLogLinks(dir string, created bool) {
	entries, _ := os.ReadDir(containerLogsDir)
	for _, e := range entries {
		p := filepath.Join(containerLogsDir, e.Name())
		if t, err := os.Readlink(p); err == nil && strings.HasPrefix(t, dir+"/") {
			_ = os.Remove(p)
		}
	}
	if created {
		_ = os.Remove(containerLogsDir) // fails when not empty
	}
}

// nodeIP returns the host's IPv4 address on the interface of its default
// route, or else its first global unicast IPv4 address. The kubelet refuses
// a loopback node address.
func nodeIP() (net.IP, error) {
	if b, err := os.ReadFile("/proc/net/route"); err == nil {
		for _, line := range strings.Split(string(b), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) > 2 && f[1] == "00000000" {
				if ip := ifaceIPv4(f[0]); ip != nil {
					return ip, nil
				}
			}
		}
	}
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil, err
	}
	for _, i := range ifaces {
		if ip := ifaceIPv4(i.Name); ip != nil {
			return ip, nil
		}
	}
	return nil, errors.New("no global IPv4 address on any interface")
}

func ifaceIPv4(name string) net.IP {
	i, err := net.InterfaceByName(name)
	if err != nil {
		return nil
	}
	addrs, _ := i.Addrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && n.IP.IsGlobalUnicast() {
			return n.IP.To4()
		}
	}
	return nil
}
