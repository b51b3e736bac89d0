package container_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/workloadattestor/container"
)

// Container IDs, image IDs and digests of the fixtures.
var (
	idA     = strings.Repeat("a", 64)
	idB     = strings.Repeat("b", 64)
	idC     = strings.Repeat("c", 64)
	imageID = "sha256:" + strings.Repeat("1", 64)
	digest1 = "sha256:" + strings.Repeat("d", 64)
	digest2 = "sha256:" + strings.Repeat("e", 64)
	podUID  = "0f6a4d8e-1c1b-4c57-9f3a-6f1e8a2b9c10"
)

// fakeRuntime is a runtime that knows the containers in its map and
// counts the questions it is asked.
type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]container.Info
	err        error         // when set, every Inspect fails with it
	gate       chan struct{} // when set, Inspect waits for it
	calls      atomic.Int64
	closed     atomic.Bool
}

func (f *fakeRuntime) Inspect(ctx context.Context, id string) (container.Info, error) {
	f.calls.Add(1)
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return container.Info{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return container.Info{}, f.err
	}
	info, ok := f.containers[id]
	if !ok {
		return container.Info{}, fmt.Errorf("%w: %s", container.ErrNotFound, id)
	}
	return info, nil
}

func (f *fakeRuntime) Close() error { f.closed.Store(true); return nil }

func (f *fakeRuntime) set(id string, info container.Info) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.containers == nil {
		f.containers = map[string]container.Info{}
	}
	f.containers[id] = info
}

func (f *fakeRuntime) remove(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
}

// fakeProc is a procfs with the processes a test writes into it.
// Namespaces are files under .ns, hard-linked into each process's ns
// directory: two processes are in the same namespace when their links are
// the same file. "self" is the reader, in the "host" user namespace.
type fakeProc struct{ dir string }

func newFakeProc(t testing.TB) *fakeProc {
	f := &fakeProc{dir: t.TempDir()}
	for _, d := range []string{".ns", "self/ns"} {
		if err := os.MkdirAll(filepath.Join(f.dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Link(f.ns(t, "user", "host"), filepath.Join(f.dir, "self/ns/user")); err != nil {
		t.Fatal(err)
	}
	return f
}

// ns returns the file of namespace name of type typ, making it if needed.
func (f *fakeProc) ns(t testing.TB, typ, name string) string {
	t.Helper()
	path := filepath.Join(f.dir, ".ns", typ+"-"+name)
	if _, err := os.Stat(path); err != nil {
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// fakeProcess is what a fake /proc/PID shows. Empty namespace names are
// "host".
type fakeProcess struct {
	cgroup, mountinfo    string
	start                uint64
	pidNS, mntNS, userNS string
}

// put writes process pid, replacing one of the same PID.
func (f *fakeProc) put(t testing.TB, pid int, p fakeProcess) {
	t.Helper()
	dir := filepath.Join(f.dir, fmt.Sprint(pid))
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "ns"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Fields 3 to 22 of /proc/PID/stat; 22 is the start time.
	stat := fmt.Sprintf("%d (my (odd) comm) S 1 1 1 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 %d 1000 10 18446744073709551615\n", pid, p.start)
	files := map[string]string{"cgroup": p.cgroup, "stat": stat}
	if p.mountinfo != "" {
		files["mountinfo"] = p.mountinfo
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for typ, name := range map[string]string{"pid": p.pidNS, "mnt": p.mntNS, "user": p.userNS} {
		if name == "" {
			name = "host"
		}
		if err := os.Link(f.ns(t, typ, name), filepath.Join(dir, "ns", typ)); err != nil {
			t.Fatal(err)
		}
	}
}

// add writes process pid with the given /proc/PID/cgroup contents and
// start time, in the host's namespaces.
func (f *fakeProc) add(t testing.TB, pid int, cgroup string, start uint64) {
	t.Helper()
	f.put(t, pid, fakeProcess{cgroup: cgroup, start: start})
}

// exit removes process pid.
func (f *fakeProc) exit(t testing.TB, pid int) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(f.dir, fmt.Sprint(pid))); err != nil {
		t.Fatal(err)
	}
}

// Cgroup files of the layouts the tests use.
func containerdPodCgroup(id string) string {
	return fmt.Sprintf("0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/cri-containerd-%s.scope\n",
		strings.ReplaceAll(podUID, "-", "_"), id)
}

func podmanCgroup(id string) string { return "0::/machine.slice/libpod-" + id + ".scope/container\n" }

func ctrCgroup(id string) string { return "0::/default/" + id + "\n" }

const hostCgroup = "0::/system.slice/ssh.service\n"

// clock is a settable time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a plugin on a fake procfs with fake runtimes, by socket address.
type env struct {
	proc     *fakeProc
	runtimes map[string]*fakeRuntime
	clock    *clock
	plugin   *container.Plugin
	dials    atomic.Int64
	nextInit int
}

func newEnv(t testing.TB) *env {
	e := &env{proc: newFakeProc(t), runtimes: map[string]*fakeRuntime{}, clock: &clock{now: time.Unix(1_700_000_000, 0)}}
	e.plugin = container.NewForTest(e.proc.dir, func(typ, address string) (container.Runtime, error) {
		e.dials.Add(1)
		r, ok := e.runtimes[address]
		if !ok {
			return nil, fmt.Errorf("no fake runtime at %s", address)
		}
		return r, nil
	}, e.clock.Now)
	return e
}

// run makes runtime r know container id with info, and its first process
// (a new PID, in cgroup and the host's namespaces), and returns that PID.
func (e *env) run(t testing.TB, r *fakeRuntime, id string, info container.Info, cgroup string) int {
	t.Helper()
	return e.runProcess(t, r, id, info, fakeProcess{cgroup: cgroup, start: 1})
}

// runProcess is run with the first process described in full.
func (e *env) runProcess(t testing.TB, r *fakeRuntime, id string, info container.Info, p fakeProcess) int {
	t.Helper()
	if e.nextInit == 0 {
		e.nextInit = 30000
	}
	e.nextInit++
	e.proc.put(t, e.nextInit, p)
	info.InitPID = e.nextInit
	r.set(id, info)
	return e.nextInit
}

// runtime returns the fake runtime at socket address, making it if needed.
func (e *env) runtime(address string) *fakeRuntime {
	r, ok := e.runtimes[address]
	if !ok {
		r = &fakeRuntime{}
		e.runtimes[address] = r
	}
	return r
}

// twoRuntimes is a configuration with a containerd and a podman (Docker
// Engine API) runtime.
const twoRuntimes = `
runtime "containerd" {
  address = "/run/containerd/containerd.sock"
}
runtime "podman" {
  type    = "docker"
  address = "unix:///run/podman/podman.sock"
}`

func (e *env) configure(t testing.TB, hcl string) {
	t.Helper()
	if _, err := e.plugin.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: hcl}); err != nil {
		t.Fatalf("configure: %v", err)
	}
}

func (e *env) attest(pid int) ([]string, error) {
	resp, err := e.plugin.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pid)})
	return resp.GetSelectorValues(), err
}

func (e *env) wantSelectors(t testing.TB, pid int, want ...string) {
	t.Helper()
	got, err := e.attest(pid)
	if err != nil {
		t.Fatalf("attest pid %d: %v", pid, err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("pid %d: selectors\n%s\nwant\n%s", pid, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func wantStatus(t testing.TB, err error, code codes.Code, msg string) {
	t.Helper()
	if status.Code(err) != code || status.Convert(err).Message() != msg {
		t.Fatalf("err = %v\nwant %v: %s", err, code, msg)
	}
}

func wantCalls(t testing.TB, r *fakeRuntime, n int64) {
	t.Helper()
	if got := r.calls.Load(); got != n {
		t.Fatalf("runtime asked %d times, want %d", got, n)
	}
}

func TestSelectors(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	podman := e.runtime("/run/podman/podman.sock")
	e.configure(t, twoRuntimes)

	e.run(t, ctrd, idA, container.Info{Image: "registry.example/app:v1", ImageID: imageID, ImageDigests: []string{digest2, digest1, digest2}, Namespace: "k8s.io"}, containerdPodCgroup(idA))
	e.run(t, podman, idB, container.Info{Image: "localhost/wl:v1", ImageID: imageID, ImageDigests: []string{digest1}}, podmanCgroup(idB))
	e.run(t, podman, idC, container.Info{Image: "localhost/built:latest", ImageID: imageID, Unresolved: "built locally"}, podmanCgroup(idC))
	e.proc.add(t, 100, containerdPodCgroup(idA), 1)
	e.proc.add(t, 200, podmanCgroup(idB), 1)
	e.proc.add(t, 300, podmanCgroup(idC), 1)
	e.proc.add(t, 400, hostCgroup, 1)

	t.Run("containerd under Kubernetes", func(t *testing.T) {
		e.wantSelectors(t, 100,
			"container_id:"+idA,
			"runtime:containerd",
			"image:registry.example/app:v1",
			"image_id:"+imageID,
			"image_digest:"+digest1,
			"image_digest:"+digest2,
			"pod_uid:"+podUID)
		// The cgroup layout names containerd: podman was not asked.
		wantCalls(t, ctrd, 1)
		wantCalls(t, podman, 0)
	})
	t.Run("podman", func(t *testing.T) {
		e.wantSelectors(t, 200,
			"container_id:"+idB,
			"runtime:podman",
			"image:localhost/wl:v1",
			"image_id:"+imageID,
			"image_digest:"+digest1)
		wantCalls(t, ctrd, 1)
		wantCalls(t, podman, 1)
	})
	t.Run("no digest resolved: no image_digest", func(t *testing.T) {
		e.wantSelectors(t, 300,
			"container_id:"+idC,
			"runtime:podman",
			"image:localhost/built:latest",
			"image_id:"+imageID)
	})
	t.Run("not a container", func(t *testing.T) {
		e.wantSelectors(t, 400)
	})
	t.Run("layout without runtime: asked in configuration order", func(t *testing.T) {
		id := strings.Repeat("f", 64)
		e.run(t, podman, id, container.Info{Image: "x"}, ctrCgroup(id))
		e.proc.add(t, 500, ctrCgroup(id), 1)
		before := ctrd.calls.Load()
		e.wantSelectors(t, 500, "container_id:"+id, "runtime:podman", "image:x")
		wantCalls(t, ctrd, before+1)
	})
	t.Run("runtime of the other API after the preferred one", func(t *testing.T) {
		// A Docker-layout cgroup whose container only containerd knows.
		id := strings.Repeat("9", 64)
		e.run(t, ctrd, id, container.Info{Image: "y"}, "0::/system.slice/docker-"+id+".scope\n")
		e.proc.add(t, 600, "0::/system.slice/docker-"+id+".scope\n", 1)
		e.wantSelectors(t, 600, "container_id:"+id, "runtime:containerd", "image:y")
	})
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	podman := e.runtime("/run/podman/podman.sock")
	e.configure(t, twoRuntimes)
	e.proc.add(t, 100, containerdPodCgroup(idA), 1)

	t.Run("no runtime knows the container", func(t *testing.T) {
		_, err := e.attest(100)
		wantStatus(t, err, codes.NotFound, "container "+idA+`: runtime "containerd" does not know it; runtime "podman" does not know it`)
	})
	t.Run("a runtime does not answer", func(t *testing.T) {
		ctrd.err = errors.New("connection refused")
		defer func() { ctrd.err = nil }()
		_, err := e.attest(100)
		wantStatus(t, err, codes.Unavailable, "container "+idA+`: runtime "containerd" did not answer: connection refused; runtime "podman" does not know it`)
	})
	t.Run("another runtime answers for one that does not", func(t *testing.T) {
		ctrd.err = errors.New("connection refused")
		defer func() { ctrd.err = nil }()
		e.run(t, podman, idA, container.Info{Image: "z"}, containerdPodCgroup(idA))
		defer podman.remove(idA)
		e.wantSelectors(t, 100, "container_id:"+idA, "runtime:podman", "image:z", "pod_uid:"+podUID)
	})
	t.Run("process gone", func(t *testing.T) {
		_, err := e.attest(999)
		wantStatus(t, err, codes.NotFound, fmt.Sprintf("cgroups: pid 999: open %s/999: no such file or directory", e.proc.dir))
	})
	t.Run("not a pid", func(t *testing.T) {
		_, err := e.attest(0)
		wantStatus(t, err, codes.InvalidArgument, "pid 0 is not a process ID")
	})
	t.Run("conflicting cgroups", func(t *testing.T) {
		e.proc.add(t, 700, "1:memory:/docker/"+idA+"\n2:cpu:/docker/"+idB+"\n", 1)
		_, err := e.attest(700)
		if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "conflicting containers") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		_, err := container.New().Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: 1})
		wantStatus(t, err, codes.FailedPrecondition, "not configured")
	})
}

func TestCache(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	e.configure(t, `runtime "containerd" { address = "/run/containerd/containerd.sock" }
cache_ttl = "1m"`)
	v1 := container.Info{Image: "app:v1", ImageID: imageID, ImageDigests: []string{digest1}}
	v2 := container.Info{Image: "app:v1", ImageID: imageID, ImageDigests: []string{digest2}}
	init := e.run(t, ctrd, idA, v1, ctrCgroup(idA))
	sel := func(digest string) []string {
		return []string{"container_id:" + idA, "runtime:containerd", "image:app:v1", "image_id:" + imageID, "image_digest:" + digest}
	}
	e.proc.add(t, 100, ctrCgroup(idA), 5000)
	calls := int64(1)

	e.wantSelectors(t, 100, sel(digest1)...)
	wantCalls(t, ctrd, calls)

	t.Run("same process: cached", func(t *testing.T) {
		e.wantSelectors(t, 100, sel(digest1)...)
		wantCalls(t, ctrd, calls)
	})
	t.Run("another process while the container's process runs: cached", func(t *testing.T) {
		e.proc.add(t, 101, ctrCgroup(idA), 5001)
		e.wantSelectors(t, 101, sel(digest1)...)
		e.wantSelectors(t, 101, sel(digest1)...)
		wantCalls(t, ctrd, calls)
	})
	t.Run("the container's process exited: asked again", func(t *testing.T) {
		// The container was deleted and a new one made under the same
		// ID from other content.
		e.proc.exit(t, init)
		init = e.run(t, ctrd, idA, v2, ctrCgroup(idA))
		e.wantSelectors(t, 101, sel(digest2)...)
		calls++
		wantCalls(t, ctrd, calls)
	})
	t.Run("its PID reused by the process of a recreated container: asked again", func(t *testing.T) {
		e.proc.add(t, init, ctrCgroup(idA), 7000) // same PID, later start
		v1.InitPID = init
		ctrd.set(idA, v1)
		e.wantSelectors(t, 101, sel(digest1)...)
		calls++
		wantCalls(t, ctrd, calls)
	})
	t.Run("a process named after the container elsewhere: refused from the cache", func(t *testing.T) {
		e.proc.add(t, 102, "0::/elsewhere/"+idA+"\n", 7001)
		_, err := e.attest(102)
		wantStatus(t, err, codes.PermissionDenied, fmt.Sprintf("cgroups: pid 102: not in the container %s: cgroup /elsewhere/%s names it, but its process %d is in cgroup /default/%s (hierarchy 0)", idA, idA, init, idA))
		wantCalls(t, ctrd, calls)
	})
	t.Run("TTL", func(t *testing.T) {
		e.clock.advance(59 * time.Second)
		e.wantSelectors(t, 101, sel(digest1)...)
		wantCalls(t, ctrd, calls)
		e.clock.advance(time.Second)
		e.wantSelectors(t, 101, sel(digest1)...)
		calls++
		wantCalls(t, ctrd, calls)
	})
	t.Run("the runtime says gone: dropped", func(t *testing.T) {
		e.clock.advance(time.Minute)
		ctrd.remove(idA)
		_, err := e.attest(101)
		wantStatus(t, err, codes.NotFound, "container "+idA+`: runtime "containerd" does not know it`)
		if n := container.CacheLen(e.plugin); n != 0 {
			t.Fatalf("%d containers cached, want 0", n)
		}
		// Errors are not cached.
		_, err = e.attest(101)
		wantStatus(t, err, codes.NotFound, "container "+idA+`: runtime "containerd" does not know it`)
		calls += 2
		wantCalls(t, ctrd, calls)
	})
}

func TestCacheBound(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/c.sock")
	e.configure(t, `runtime "containerd" { address = "/c.sock" }
cache_size = 2`)
	for i, id := range []string{idA, idB, idC} {
		e.run(t, ctrd, id, container.Info{Image: "i"}, ctrCgroup(id))
		e.proc.add(t, 100+i, ctrCgroup(id), 1)
		if _, err := e.attest(100 + i); err != nil {
			t.Fatal(err)
		}
	}
	if n := container.CacheLen(e.plugin); n != 2 {
		t.Fatalf("%d containers cached, want 2", n)
	}
	// idA was the least recently used: asked again; idC was not.
	if _, err := e.attest(102); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, ctrd, 3)
	if _, err := e.attest(100); err != nil {
		t.Fatal(err)
	}
	wantCalls(t, ctrd, 4)
}

func TestExpiredEntriesDropped(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/c.sock")
	e.configure(t, `runtime "containerd" { address = "/c.sock" }
cache_ttl = "10s"`)
	e.run(t, ctrd, idA, container.Info{Image: "i"}, ctrCgroup(idA))
	e.run(t, ctrd, idB, container.Info{Image: "i"}, ctrCgroup(idB))
	e.proc.add(t, 100, ctrCgroup(idA), 1)
	e.proc.add(t, 101, ctrCgroup(idB), 1)
	if _, err := e.attest(100); err != nil {
		t.Fatal(err)
	}
	e.clock.advance(11 * time.Second)
	// Adding idB sweeps out idA, which nobody asked about since.
	if _, err := e.attest(101); err != nil {
		t.Fatal(err)
	}
	if n := container.CacheLen(e.plugin); n != 1 {
		t.Fatalf("%d containers cached, want 1", n)
	}
}

func TestConcurrentRequestsFetchOnce(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/c.sock")
	ctrd.gate = make(chan struct{})
	e.configure(t, `runtime "containerd" { address = "/c.sock" }`)
	e.run(t, ctrd, idA, container.Info{Image: "i"}, ctrCgroup(idA))
	const n = 8
	for i := range n {
		e.proc.add(t, 100+i, ctrCgroup(idA), uint64(i))
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := e.attest(100 + i)
			errs <- err
		})
	}
	// Let the requests queue up behind the first fetch, then release it.
	for ctrd.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(ctrd.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Requests that arrived after the fetch finished are cache hits:
	// every one of the processes was recorded as seen.
	wantCalls(t, ctrd, 1)
	for i := range n {
		if _, err := e.attest(100 + i); err != nil {
			t.Fatal(err)
		}
	}
	wantCalls(t, ctrd, 1)
}

func TestTimeout(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/c.sock")
	ctrd.gate = make(chan struct{}) // never released
	e.configure(t, `runtime "containerd" { address = "/c.sock" }
timeout = "50ms"`)
	e.proc.add(t, 100, ctrCgroup(idA), 1)
	_, err := e.attest(100)
	wantStatus(t, err, codes.Unavailable, "container "+idA+`: runtime "containerd" did not answer: context deadline exceeded`)
}

func TestReconfigure(t *testing.T) {
	e := newEnv(t)
	old := e.runtime("/old.sock")
	e.configure(t, `runtime "containerd" { address = "/old.sock" }
timeout = "10ms"`)
	e.run(t, old, idA, container.Info{Image: "i"}, ctrCgroup(idA))
	e.proc.add(t, 100, ctrCgroup(idA), 1)
	if _, err := e.attest(100); err != nil {
		t.Fatal(err)
	}
	e.runtime("/new.sock")
	e.configure(t, `runtime "docker" { address = "/new.sock" }`)
	_, err := e.attest(100)
	wantStatus(t, err, codes.NotFound, "container "+idA+`: runtime "docker" does not know it`)
	deadline := time.Now().Add(5 * time.Second)
	for !old.closed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the old runtime client was not closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name, hcl, want string
	}{
		{
			name: "everything wrong at once",
			hcl: `runtime "containerd" {
  address = "relative.sock"
}
runtime "crio" {
  address = "/run/crio/crio.sock"
}
runtime "Docker" {
  type    = "moby"
  address = "tcp://127.0.0.1:2375"
  tls     = true
}
runtime "podman" {
  type = "docker"
}
cache_size = -1
cache_ttl  = "forever"
timeout    = "-1s"
colour     = "blue"`,
			want: `unknown configuration key "colour"
unknown configuration key "runtime.Docker.tls"
runtime "Docker": name must be 1-63 lowercase letters, digits, '.', '_' or '-'
runtime "Docker": type "moby": want containerd or docker
runtime "Docker": address "tcp://127.0.0.1:2375": want a unix socket, /path or unix:///path
runtime "containerd": address "relative.sock": want a unix socket, /path or unix:///path
runtime "crio": type is needed (containerd or docker)
runtime "podman": address is needed (a unix socket: /path or unix:///path)
cache_size -1: must be positive
cache_ttl: time: invalid duration "forever"
timeout "-1s": must be positive`,
		},
		{
			name: "no runtime",
			hcl:  `cache_size = 10`,
			want: `no runtime configured: add runtime "containerd" { address = "/run/containerd/containerd.sock" } or runtime "docker" { address = "/var/run/docker.sock" }`,
		},
		{
			name: "no runtime and an unknown key",
			hcl:  `shape = "round"`,
			want: `unknown configuration key "shape"
no runtime configured: add runtime "containerd" { address = "/run/containerd/containerd.sock" } or runtime "docker" { address = "/var/run/docker.sock" }`,
		},
		{
			name: "a name twice",
			hcl: `runtime "containerd" { address = "/a.sock" }
runtime "containerd" { address = "/b.sock" }`,
			want: `runtime "containerd" is defined more than once`,
		},
		{
			name: "two names",
			hcl:  `runtime "containerd" "extra" { address = "/a.sock" }`,
			want: `runtime blocks take one name: runtime "<name>" { ... } (line 1)
runtime "containerd": address is needed (a unix socket: /path or unix:///path)`,
		},
		{
			name: "syntax",
			hcl:  `runtime "containerd" {`,
			want: `parse configuration: At 1:24: object expected closing RBRACE got: EOF`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := container.New()
			_, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: tt.hcl})
			wantStatus(t, err, codes.InvalidArgument, "invalid configuration: "+tt.want)
			v, err := p.Validate(context.Background(), &configv1.ValidateRequest{HclConfiguration: tt.hcl})
			if err != nil || v.Valid || !slices.Equal(v.Notes, []string{tt.want}) {
				t.Errorf("Validate = %v, %v", v, err)
			}
		})
	}
	t.Run("valid", func(t *testing.T) {
		v, err := container.New().Validate(context.Background(), &configv1.ValidateRequest{HclConfiguration: twoRuntimes + `
runtime "docker" {
  address = "/var/run/docker.sock"
}
cache_size = 100
cache_ttl  = "30s"
timeout    = "2s"`})
		if err != nil || !v.Valid {
			t.Fatalf("Validate = %v, %v", v, err)
		}
	})
	t.Run("runtimes dialled with their socket paths", func(t *testing.T) {
		e := newEnv(t)
		e.runtime("/run/containerd/containerd.sock")
		e.runtime("/run/podman/podman.sock")
		e.configure(t, twoRuntimes)
		if n := e.dials.Load(); n != 2 {
			t.Fatalf("%d runtimes dialled, want 2", n)
		}
	})
}

// TestThroughPlugin runs the plugin behind the go-plugin gRPC boundary, as
// the SPIRE agent does, with the real Docker Engine API client against a
// fake daemon.
func TestThroughPlugin(t *testing.T) {
	proc := newFakeProc(t)
	daemon := newFakeDaemon(t)
	daemon.addPodman(idB)
	proc.add(t, 200, podmanCgroup(idB), 1)
	proc.add(t, podmanInitPID, podmanCgroup(idB), 1) // the recorded State.Pid
	client := serveDockerPlugin(t, proc.dir, fmt.Sprintf("runtime \"podman\" {\n  type = \"docker\"\n  address = %q\n}", "unix://"+daemon.socket))
	resp, err := client.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: 200})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"container_id:" + idB, "runtime:podman", "image:" + podmanImage, "image_id:sha256:" + podmanImageID, "image_digest:sha256:" + podmanDigest}
	if !slices.Equal(resp.SelectorValues, want) {
		t.Fatalf("selectors %q, want %q", resp.SelectorValues, want)
	}
	proc.add(t, 201, podmanCgroup(idA), 1)
	_, err = client.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: 201})
	wantStatus(t, err, codes.NotFound, "container "+idA+`: runtime "podman" does not know it`)
}

func TestParseStartTime(t *testing.T) {
	tests := []struct {
		in      string
		want    uint64
		wantErr string
	}{
		{in: "1234 (sleep) S 1 1234 1234 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 98765 1000 100\n", want: 98765},
		{in: "7 (a) b) c) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 42\n", want: 42},
		{in: "7 (a b) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0", wantErr: "stat: 19 fields after the command name, want more than 19"},
		{in: "7 (a) R 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -3", wantErr: `stat: start time: strconv.ParseUint: parsing "-3": invalid syntax`},
		{in: "7 a R", wantErr: "stat: no command name"},
	}
	for _, tt := range tests {
		got, err := container.ParseStartTime([]byte(tt.in))
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("%q: err = %v, want %s", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%q: %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

// serveDockerPlugin serves a plugin reading procDir and talking the Docker
// Engine API over the real go-plugin boundary, configured with hcl.
func serveDockerPlugin(t *testing.T, procDir, hcl string) *workloadattestorv1.WorkloadAttestorPluginClient {
	t.Helper()
	p := container.NewForTest(procDir, func(typ, address string) (container.Runtime, error) {
		return container.NewDocker(address), nil
	}, time.Now)
	client, cfg := new(workloadattestorv1.WorkloadAttestorPluginClient), new(configv1.ConfigServiceClient)
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:   workloadattestorv1.WorkloadAttestorPluginServer(p),
		PluginClient:   client,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(p)},
		ServiceClients: []pluginsdk.ServiceClient{cfg},
		Logger:         hclog.NewNullLogger(),
	})
	if _, err := cfg.Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "example.org"},
		HclConfiguration:  hcl,
	}); err != nil {
		t.Fatal(err)
	}
	return client
}
