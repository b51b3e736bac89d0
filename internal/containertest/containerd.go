package containertest

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// containerdStartTimeout bounds the wait for containerd to serve its API.
const containerdStartTimeout = 30 * time.Second

// Containerd is a private containerd.
type Containerd struct {
	// Dir holds its configuration, root, state, socket and log.
	Dir string
	// Socket is its gRPC API's unix socket.
	Socket string

	d *Daemon
}

// StartContainerd starts containerd with everything under a new temporary
// directory and waits until it answers.
func StartContainerd(tb testing.TB) *Containerd {
	tb.Helper()
	need(tb, "apt-get install -y containerd runc", "containerd", "ctr", "runc", "containerd-shim-runc-v2")
	dir := Dir(tb, "ctrd-")
	tb.Cleanup(func() { unmountUnder(tb, dir) }) // after containerd stopped
	c := &Containerd{Dir: dir, Socket: filepath.Join(dir, "containerd.sock")}
	config := fmt.Sprintf(`version = 2
root  = %q
state = %q
# Kubernetes' CRI is not what these tests use (and it wants CNI).
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), c.Socket)
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		tb.Fatal(err)
	}
	c.d = startDaemon(tb, dir, "containerd", "containerd", "--config", path)
	err := poll(containerdStartTimeout, func() error {
		if c.d.Exited() {
			return fmt.Errorf("containerd exited")
		}
		_, err := c.ctr("", "version")
		return err
	})
	if err != nil {
		tb.Fatalf("containerd did not start: %v\n%s", err, c.d.LogTail())
	}
	return c
}

// ctr runs ctr against this containerd in namespace ns ("" for ctr's
// default).
func (c *Containerd) ctr(ns string, args ...string) (string, error) {
	global := []string{"--address", c.Socket}
	if ns != "" {
		global = append(global, "--namespace", ns)
	}
	return Run("ctr", append(global, args...)...)
}

// Ctr runs ctr in namespace ns and returns its output, failing the test on
// error.
func (c *Containerd) Ctr(tb testing.TB, ns string, args ...string) string {
	tb.Helper()
	out, err := c.ctr(ns, args...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Pull pulls ref (from a plain-HTTP registry such as StartRegistry's) into
// namespace ns.
func (c *Containerd) Pull(tb testing.TB, ns, ref string) {
	tb.Helper()
	c.Ctr(tb, ns, "images", "pull", "--plain-http", ref)
}

// Create makes container id from image ref in namespace ns without running
// it (a container record and its snapshot), deleted at cleanup.
func (c *Containerd) Create(tb testing.TB, ns, ref, id string) {
	tb.Helper()
	c.Ctr(tb, ns, "containers", "create", ref, id)
	tb.Cleanup(func() { _, _ = c.ctr(ns, "containers", "delete", id) })
}

// RunOptions describe a container to run.
type RunOptions struct {
	// Namespace is the containerd namespace ("" for ctr's default).
	Namespace string
	// Image is the reference of a pulled image.
	Image string
	// ID is the container ID.
	ID string
	// Cgroup is the cgroup path (empty: ctr's /<namespace>/<id>).
	Cgroup string
	// Binds are bind mounts, host directory to container directory.
	Binds map[string]string
	// NetHost runs the container in the host's network namespace (to reach
	// a server on the host's loopback).
	NetHost bool
	// LogFile receives the container's standard output and error (ctr's
	// --log-uri file://); empty discards them.
	LogFile string
}

// Run runs a container detached under runc and returns the PID of its
// process as the host sees it. At cleanup the task is killed and the
// container deleted.
func (c *Containerd) Run(tb testing.TB, o RunOptions) int {
	tb.Helper()
	args := []string{"run", "-d"}
	if o.Cgroup != "" {
		args = append(args, "--cgroup", o.Cgroup)
	}
	if o.NetHost {
		args = append(args, "--net-host")
	}
	if o.LogFile != "" {
		args = append(args, "--log-uri", "file://"+o.LogFile)
	}
	for src, dst := range o.Binds {
		args = append(args, "--mount", "type=bind,src="+src+",dst="+dst+",options=rbind:rw")
	}
	args = append(args, o.Image, o.ID)
	tb.Cleanup(func() {
		c.remove(tb, o.Namespace, o.ID)
		removeCgroupParents(o.Cgroup)
	})
	c.Ctr(tb, o.Namespace, args...)
	out := c.Ctr(tb, o.Namespace, "tasks", "ls")
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == o.ID {
			pid, err := strconv.Atoi(f[1])
			if err != nil {
				tb.Fatalf("ctr tasks ls: %q", line)
			}
			return pid
		}
	}
	tb.Fatalf("ctr tasks ls shows no task %s:\n%s", o.ID, out)
	return 0
}

// remove kills and deletes a container's task, then the container.
func (c *Containerd) remove(tb testing.TB, ns, id string) {
	if _, err := c.ctr(ns, "tasks", "kill", "--signal", "SIGKILL", id); err == nil {
		_ = poll(10*time.Second, func() error {
			_, err := c.ctr(ns, "tasks", "delete", id)
			return err
		})
	}
	if _, err := c.ctr(ns, "containers", "delete", id); err != nil && !strings.Contains(err.Error(), "not found") {
		tb.Logf("delete container %s: %v", id, err)
	}
}

// removeCgroupParents removes the empty parent cgroups runc made for a
// cgroup path (it removes only the container's own), in every hierarchy.
// rmdir fails on a cgroup that is not empty, so cgroups in use stay.
func removeCgroupParents(cgroup string) {
	if cgroup == "" {
		return
	}
	roots := []string{"/sys/fs/cgroup"}
	if entries, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range entries {
			if e.IsDir() {
				roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
			}
		}
	}
	for p := filepath.Dir(filepath.Clean(cgroup)); p != "/" && p != "."; p = filepath.Dir(p) {
		for _, r := range roots {
			_ = os.Remove(filepath.Join(r, p))
		}
	}
}
