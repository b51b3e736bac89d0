package containertest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cgroupRoot is where cgroup file systems are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupHierarchies returns the roots of the cgroup hierarchies mounted
// under /sys/fs/cgroup: the unified hierarchy of cgroup v2 (mounted there
// itself, or at unified/ on a hybrid system) and each v1 hierarchy.
func cgroupHierarchies() []string {
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.procs")); err == nil {
		return []string{cgroupRoot}
	}
	var roots []string
	entries, _ := os.ReadDir(cgroupRoot)
	for _, e := range entries {
		h := filepath.Join(cgroupRoot, e.Name())
		if _, err := os.Stat(filepath.Join(h, "cgroup.procs")); err == nil {
			roots = append(roots, h)
		}
	}
	return roots
}

// InCgroupScript returns a shell script that moves itself into cgroup path
// in every hierarchy (making the directories) and then executes its
// arguments: `sh -c SCRIPT sh CMD ARGS...`. It plays a workload that may
// write its cgroup tree (root, a privileged container, a delegated subtree)
// and names its cgroup as it likes. The directories it makes are removed at
// cleanup, once empty: register the process's own cleanup (which stops it)
// after calling this.
func InCgroupScript(tb testing.TB, path string) string {
	tb.Helper()
	rel := strings.TrimPrefix(filepath.Clean("/"+path), "/")
	roots := cgroupHierarchies()
	if len(roots) == 0 || rel == "" {
		tb.Fatalf("no cgroup hierarchy under %s, or no path (%q)", cgroupRoot, path)
	}
	tb.Cleanup(func() {
		for _, h := range roots {
			for p := rel; p != "." && p != "/"; p = filepath.Dir(p) {
				if os.Remove(filepath.Join(h, p)) != nil {
					break // not empty (another test's), or not made here
				}
			}
		}
	})
	var b strings.Builder
	b.WriteString("set -e\n")
	levels := strings.Split(rel, "/")
	for _, h := range roots {
		// One level at a time: a v1 cpuset cgroup takes no process until
		// it has CPUs and memory nodes, which it does not inherit.
		parent := h
		for _, l := range levels {
			d := filepath.Join(parent, l)
			b.WriteString("mkdir -p '" + d + "'\n")
			b.WriteString("for f in cpuset.cpus cpuset.mems; do if [ -f '" + d + "'/$f ] && [ -z \"$(cat '" + d + "'/$f)\" ]; then cat '" + parent + "'/$f > '" + d + "'/$f; fi; done\n")
			parent = d
		}
		b.WriteString("echo $$ > '" + parent + "/cgroup.procs'\n")
	}
	b.WriteString(`exec "$@"` + "\n")
	return b.String()
}
