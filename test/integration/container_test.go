package integration_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// The workload of these tests is svidclient (./svidclient): it fetches an
// X509-SVID from the agent's workload API every half second and writes the
// outcome to a status file. In an image it reads the agent's socket from
// /spire (the agent's public directory, bind-mounted) and writes /out/status
// (a host directory, bind-mounted).
const (
	statusOK       = "ok "
	noIdentity     = "no identity issued"
	containerSock  = "unix:///spire/workload.sock"
	containerOut   = "/out/status"
	refusalSettles = 3 * time.Second // how long a refused workload must stay refused
)

var (
	svidClientOnce sync.Once
	svidClientPath string
	svidClientErr  error
)

// svidClient builds svidclient statically (it runs in images without a libc)
// once per test binary and returns its path.
func svidClient(t *testing.T) string {
	t.Helper()
	svidClientOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hwattest-svidclient-")
		if err != nil {
			svidClientErr = err
			return
		}
		svidClientPath = filepath.Join(dir, "svidclient")
		cmd := exec.Command("go", "build", "-o", svidClientPath, "./svidclient")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			svidClientErr = fmt.Errorf("go build ./svidclient: %w\n%s", err, out)
		}
	})
	if svidClientErr != nil {
		t.Fatal(svidClientErr)
	}
	return svidClientPath
}

// workloadImage is svidclient as an image's entrypoint; variant goes into a
// label, so two variants are the same program under different digests.
func workloadImage(t *testing.T, variant string) containertest.Image {
	t.Helper()
	return containertest.Build(t, containertest.ImageOptions{
		Files:      map[string][]byte{"/svidclient": containertest.ReadFile(t, svidClient(t))},
		Executable: []string{"/svidclient"},
		Dirs:       []string{"/spire", "/out", "/tmp"},
		Entrypoint: []string{"/svidclient"},
		Cmd:        []string{"-socket", containerSock, "-out", containerOut},
		Labels:     map[string]string{"org.hwattest.test.variant": variant},
	})
}

// workloadSetup is a TPM-attested agent with our container and exe workload
// attestors next to SPIRE's unix attestor.
type workloadSetup struct {
	node   *node
	server *harness.Server
	agent  *harness.Agent
}

// startWorkloadSetup starts a node, a server and an agent with the exe
// plugin and, unless containerData is empty, the container plugin with that
// plugin_data.
func startWorkloadSetup(t *testing.T, containerData string) *workloadSetup {
	t.Helper()
	plugins := harness.Plugins(t)
	ctr, exe := plugins["workloadattestor-container"], plugins["workloadattestor-exe"]
	extra := fmt.Sprintf(`
  WorkloadAttestor "exe" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {}
  }
`, exe.Path, exe.Checksum)
	if containerData != "" {
		extra += fmt.Sprintf(`
  WorkloadAttestor "container" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {
%s
    }
  }
`, ctr.Path, ctr.Checksum, containerData)
	}
	n := newNode(t, swtpmtest.Options{})
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig()})
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig(), ExtraPlugins: extra})
	return &workloadSetup{node: n, server: server, agent: agent}
}

// publicDir is the agent's directory holding the workload API socket,
// which containers mount at /spire.
func (s *workloadSetup) publicDir() string { return filepath.Dir(s.agent.Socket) }

// register creates an entry for spiffeID under the agent.
func (s *workloadSetup) register(t *testing.T, spiffeID string, selectors ...string) {
	t.Helper()
	s.server.CreateEntry(t, s.node.agentID(), spiffeID, selectors...)
}

// readStatus returns svidclient's latest outcome in dir/status.
func readStatus(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "status"))
	return strings.TrimSpace(string(b))
}

// waitSVID waits until the workload writing to dir holds an SVID for
// spiffeID.
func waitSVID(t *testing.T, dir, spiffeID string) {
	t.Helper()
	if err := harness.Eventually(45*time.Second, func() error {
		if got := readStatus(dir); got != statusOK+spiffeID {
			return fmt.Errorf("workload status %q, want %q", got, statusOK+spiffeID)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// waitRefused waits until the workload writing to dir is refused an SVID,
// and checks that it stays refused.
func waitRefused(t *testing.T, dir string) {
	t.Helper()
	if err := harness.Eventually(30*time.Second, func() error {
		if got := readStatus(dir); !strings.Contains(got, noIdentity) {
			return fmt.Errorf("workload status %q, want %q", got, noIdentity)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(refusalSettles)
	for time.Now().Before(deadline) {
		if got := readStatus(dir); strings.HasPrefix(got, statusOK) {
			t.Fatalf("workload got an SVID: %q", got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitSelectors waits until the agent logged the selectors of pid and
// returns the values of those of type typ, in order.
func (s *workloadSetup) waitSelectors(t *testing.T, pid int, typ string) []string {
	t.Helper()
	var line string
	err := harness.Eventually(30*time.Second, func() error {
		for _, l := range strings.Split(s.agent.LogText(), "\n") {
			if strings.Contains(l, "PID attested to have selectors") && strings.Contains(l, "pid="+strconv.Itoa(pid)+" ") {
				line = l
			}
		}
		if line == "" {
			return fmt.Errorf("the agent logged no selectors for pid %d", pid)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The agent logs common.Selector messages in protobuf text:
	// type:\"container\" value:\"image:...\"
	var values []string
	prefix := `type:\"` + typ + `\" value:\"`
	for rest := line; ; {
		i := strings.Index(rest, prefix)
		if i < 0 {
			break
		}
		rest = rest[i+len(prefix):]
		end := strings.Index(rest, `\"`)
		if end < 0 {
			break
		}
		values = append(values, rest[:end])
		rest = rest[end:]
	}
	return values
}

// wantSelectors checks that the agent attested pid with exactly want from
// plugin typ.
func (s *workloadSetup) wantSelectors(t *testing.T, pid int, typ string, want ...string) {
	t.Helper()
	if got := s.waitSelectors(t, pid, typ); !slices.Equal(got, want) {
		t.Errorf("%s selectors of pid %d:\n%s\nwant\n%s", typ, pid, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// randomHex returns a new container ID: 64 random hex digits.
func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestContainerContainerd: a container run with ctr under a private
// containerd (runc), in the k8s.io namespace with a Kubernetes cgroup path,
// from an image pulled by tag from a registry, gets an SVID through a real
// SPIRE agent for an entry with the image's repository digest; the same
// program under another digest, a process on the host, and a process on
// the host in a cgroup named after the registered container get none.
func TestContainerContainerd(t *testing.T) {
	harness.SPIRE(t)
	ctrd := containertest.StartContainerd(t)
	reg := containertest.StartRegistry(t)
	good, other := workloadImage(t, "registered"), workloadImage(t, "other")
	goodRef, otherRef := reg.Push(t, good, "wl:v1"), reg.Push(t, other, "wl:v2")
	for _, ref := range []string{goodRef, otherRef} {
		ctrd.Pull(t, "k8s.io", ref)
	}
	s := startWorkloadSetup(t, fmt.Sprintf("runtime \"containerd\" {\n  address = %q\n}", ctrd.Socket))
	workload := "spiffe://" + harness.TrustDomain + "/containerd-workload"
	s.register(t, workload, "container:image_digest:"+good.Digest)

	run := func(ref string) (out, id string, pid int) {
		out = harness.Dir(t)
		id = randomHex(t)
		podUID := "6f3c2a1e-0b7d-4e9a-8c5f-" + id[:12]
		pid = ctrd.Run(t, containertest.RunOptions{
			Namespace: "k8s.io", Image: ref, ID: id,
			Cgroup: "/kubepods/besteffort/pod" + podUID + "/" + id,
			Binds:  map[string]string{s.publicDir(): "/spire", out: "/out"},
		})
		return out, id, pid
	}

	out, id, pid := run(goodRef)
	waitSVID(t, out, workload)
	s.wantSelectors(t, pid, "container",
		"container_id:"+id,
		"runtime:containerd",
		"image:"+goodRef,
		"image_id:"+good.ConfigDigest,
		"image_digest:"+good.Digest,
		"pod_uid:6f3c2a1e-0b7d-4e9a-8c5f-"+id[:12])
	// The exe attestor measures the binary in the container's root.
	s.wantSelectors(t, pid, "exe", "sha256:"+sha256File(t, svidClient(t)), "path:/svidclient")
	t.Logf("registered image %s (%s): SVID issued", goodRef, good.Digest)

	otherOut, otherID, otherPID := run(otherRef)
	waitRefused(t, otherOut)
	s.wantSelectors(t, otherPID, "container",
		"container_id:"+otherID,
		"runtime:containerd",
		"image:"+otherRef,
		"image_id:"+other.ConfigDigest,
		"image_digest:"+other.Digest,
		"pod_uid:6f3c2a1e-0b7d-4e9a-8c5f-"+otherID[:12])
	t.Logf("same program as %s (%s): no SVID", otherRef, other.Digest)

	hostOut, hostPID := runHostWorkload(t, s)
	waitRefused(t, hostOut)
	s.wantSelectors(t, hostPID, "container") // not a container: none

	// A host process that names its cgroup after the registered container
	// (as a privileged or Docker-in-Docker container, or a user in its
	// delegated systemd subtree, can): refused, the container still gets
	// its SVID.
	s.wantSpoofRefused(t, id, "/hwattest-spoof-"+id[:8]+"/kubepods/besteffort/pod6f3c2a1e-0b7d-4e9a-8c5f-"+id[:12]+"/"+id)
	if got := readStatus(out); got != statusOK+workload {
		t.Errorf("the registered container's status became %q", got)
	}
}

// wantSpoofRefused runs svidclient on the host in cgroup (a path named
// after container id) and checks that it gets no SVID and no container
// selectors, and that the plugin refused it.
func (s *workloadSetup) wantSpoofRefused(t *testing.T, id, cgroup string) {
	t.Helper()
	dir := harness.Dir(t)
	script := containertest.InCgroupScript(t, cgroup)
	p := harness.Start(t, dir, "spoof-svidclient", "sh", "-c", script, "sh",
		svidClient(t), "-socket", "unix://"+s.agent.Socket, "-out", filepath.Join(dir, "status"))
	waitRefused(t, dir)
	s.wantSelectors(t, p.Pid(), "container")
	want := fmt.Sprintf(`code = PermissionDenied desc = workloadattestor(container): cgroups: pid %d: not in the container %s: `, p.Pid(), id)
	if !strings.Contains(s.agent.LogText(), want) {
		t.Errorf("the agent did not log %s", want)
	}
	t.Logf("a host process in cgroup %s: no SVID", cgroup)
}

// TestContainerPodman: the same through podman's Docker-compatible API
// service; and with the service stopped, a new container of the registered
// image gets no SVID (the runtime does not answer: the attestor fails, and
// SPIRE drops its selectors).
func TestContainerPodman(t *testing.T) {
	harness.SPIRE(t)
	pm := containertest.StartPodman(t)
	service := pm.Service(t)
	reg := containertest.StartRegistry(t)
	good, other := workloadImage(t, "registered"), workloadImage(t, "other")
	goodRef, otherRef := reg.Push(t, good, "wl:v1"), reg.Push(t, other, "wl:v2")
	for _, ref := range []string{goodRef, otherRef} {
		pm.Pull(t, ref)
	}
	s := startWorkloadSetup(t, fmt.Sprintf("runtime \"podman\" {\n  type    = \"docker\"\n  address = %q\n}", "unix://"+service.Socket))
	workload := "spiffe://" + harness.TrustDomain + "/podman-workload"
	s.register(t, workload, "container:image_digest:"+good.Digest)

	out := harness.Dir(t)
	id, pid := pm.Run(t, goodRef, map[string]string{s.publicDir(): "/spire", out: "/out"})
	waitSVID(t, out, workload)
	s.wantSelectors(t, pid, "container",
		"container_id:"+id,
		"runtime:podman",
		"image:"+goodRef,
		"image_id:"+good.ConfigDigest,
		"image_digest:"+good.Digest)
	s.wantSelectors(t, pid, "exe", "sha256:"+sha256File(t, svidClient(t)), "path:/svidclient")
	t.Logf("registered image %s (%s): SVID issued", goodRef, good.Digest)

	otherOut := harness.Dir(t)
	otherID, otherPID := pm.Run(t, otherRef, map[string]string{s.publicDir(): "/spire", otherOut: "/out"})
	waitRefused(t, otherOut)
	s.wantSelectors(t, otherPID, "container",
		"container_id:"+otherID,
		"runtime:podman",
		"image:"+otherRef,
		"image_id:"+other.ConfigDigest,
		"image_digest:"+other.Digest)
	t.Logf("same program as %s (%s): no SVID", otherRef, other.Digest)

	hostOut, hostPID := runHostWorkload(t, s)
	waitRefused(t, hostOut)
	s.wantSelectors(t, hostPID, "container") // not a container: none
	s.wantSpoofRefused(t, id, "/hwattest-spoof-"+id[:8]+"/libpod_parent/libpod-"+id)
	if got := readStatus(out); got != statusOK+workload {
		t.Errorf("the registered container's status became %q", got)
	}

	service.Stop()
	downOut := harness.Dir(t)
	downID, downPID := pm.Run(t, goodRef, map[string]string{s.publicDir(): "/spire", downOut: "/out"})
	waitRefused(t, downOut)
	s.wantSelectors(t, downPID, "container")
	want := `workload attestor \"container\" failed: rpc error: code = Unavailable desc = workloadattestor(container): container ` + downID +
		`: runtime \"podman\" did not answer: socket does not exist: ` // the stopped service removed its socket
	if !strings.Contains(s.agent.LogText(), want) {
		t.Errorf("the agent did not log %s", want)
	}
	t.Log("runtime down: no SVID for a new container of the registered image")
}

// runHostWorkload runs svidclient as a host process against the agent and
// returns its status directory and PID.
func runHostWorkload(t *testing.T, s *workloadSetup) (string, int) {
	t.Helper()
	dir := harness.Dir(t)
	p := harness.Start(t, dir, "host-svidclient", svidClient(t), "-socket", "unix://"+s.agent.Socket, "-out", filepath.Join(dir, "status"))
	return dir, p.Pid()
}
