package containertest

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serviceStartTimeout bounds the wait for podman's API service.
const serviceStartTimeout = 30 * time.Second

// Podman is podman with its own storage and runtime directories.
type Podman struct {
	// Dir holds its storage (root), run root, tmpdir, sockets and logs.
	Dir string

	global []string
	ids    []string // containers run
}

// StartPodman gives the test a podman whose every invocation uses
// directories under a new temporary directory: the root, run root and
// tmpdir, the cgroupfs cgroup manager (the path is
// /libpod_parent/libpod-<id>) and a file for events. At cleanup its
// containers are removed.
func StartPodman(tb testing.TB) *Podman {
	tb.Helper()
	need(tb, "apt-get install -y podman", "podman")
	dir, err := os.MkdirTemp("", "pm-")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Podman{Dir: dir, global: []string{
		"--root", filepath.Join(dir, "root"),
		"--runroot", filepath.Join(dir, "runroot"),
		"--tmpdir", filepath.Join(dir, "tmp"),
		"--cgroup-manager", "cgroupfs",
		"--events-backend", "file",
		"--storage-driver", "overlay",
	}}
	tb.Cleanup(func() {
		p.removeContainers(tb)
		// conmon runs `podman container cleanup` when a container
		// exits, which may mount the storage again (overlay mounts
		// its home on itself) after a first unmount: retry until the
		// directory is gone.
		err := poll(cleanupTimeout, func() error {
			unmountUnder(tb, dir)
			return os.RemoveAll(dir)
		})
		if err != nil {
			tb.Logf("remove %s: %v", dir, err)
		}
	})
	return p
}

// cleanupTimeout bounds the removal of a podman's containers and files.
const cleanupTimeout = 20 * time.Second

// removeContainers removes every container, retrying while podman's own
// exit handling races with the removal ("container state improper"), and
// then the cgroups the cgroupfs manager left.
func (p *Podman) removeContainers(tb testing.TB) {
	err := poll(cleanupTimeout, func() error {
		if _, err := Run("podman", append(p.global, "rm", "--all", "--force", "--time", "0")...); err != nil {
			return err
		}
		out, err := Run("podman", append(p.global, "ps", "--all", "--quiet")...)
		if err == nil && strings.TrimSpace(out) != "" {
			err = fmt.Errorf("containers left: %s", strings.Fields(out))
		}
		return err
	})
	if err != nil {
		tb.Logf("podman rm: %v", err)
	}
	for _, id := range p.ids {
		removeCgroupParents("/libpod_parent/libpod-" + id + "/leaf")
	}
	// conmon's cgroup, and then libpod_parent, when no other podman uses
	// them.
	removeCgroupParents("/libpod_parent/conmon/leaf")
}

// Podman runs podman with args and returns its standard output, failing
// the test on error.
func (p *Podman) Podman(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := Run("podman", append(p.global, args...)...)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// Pull pulls ref from a plain-HTTP registry.
func (p *Podman) Pull(tb testing.TB, ref string) {
	tb.Helper()
	p.Podman(tb, "pull", "--quiet", "--tls-verify=false", ref)
}

// Run runs image detached (no network, the limits this machine needs) with
// the bind mounts (host directory to container directory) and returns the
// container ID and the PID of its process as the host sees it.
func (p *Podman) Run(tb testing.TB, image string, binds map[string]string) (id string, pid int) {
	tb.Helper()
	args := []string{"run", "-d", "--network", "none",
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"}
	for src, dst := range binds {
		args = append(args, "-v", src+":"+dst)
	}
	id = strings.TrimSpace(p.Podman(tb, append(args, image)...))
	p.ids = append(p.ids, id)
	out := strings.TrimSpace(p.Podman(tb, "inspect", "--format", "{{.State.Pid}}", id))
	pid, err := strconv.Atoi(out)
	if err != nil || pid <= 0 {
		tb.Fatalf("podman inspect %s: pid %q", id, out)
	}
	return id, pid
}

// Service is podman's API service.
type Service struct {
	// Socket is the path of its unix socket.
	Socket string

	d *Daemon
}

// Service runs `podman system service` (the Docker-compatible Engine API
// and podman's own) on a unix socket in Dir until Stop or the end of the
// test.
func (p *Podman) Service(tb testing.TB) *Service {
	tb.Helper()
	socket := filepath.Join(p.Dir, "podman.sock")
	d := startDaemon(tb, p.Dir, "podman-service", "podman", append(p.global, "system", "service", "--time=0", "unix://"+socket)...)
	client := UnixClient(socket)
	err := poll(serviceStartTimeout, func() error {
		if d.Exited() {
			return fmt.Errorf("podman system service exited")
		}
		resp, err := client.Get("http://podman/_ping")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("_ping: %s", resp.Status)
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("podman system service did not start: %v\n%s", err, d.LogTail())
	}
	return &Service{Socket: socket, d: d}
}

// Stop stops the service (the containers go on running).
func (s *Service) Stop() { s.d.Stop() }
