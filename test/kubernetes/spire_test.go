package kubernetes_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/provenancetest"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
	"github.com/hwattest/hwattest/test/kubernetes/cluster"
)

// spireTimeout bounds each wait for SPIRE in the cluster (pods starting,
// the agent attesting, an entry reaching the agent).
const spireTimeout = 3 * time.Minute

// agentIDPattern finds the agent's SPIFFE ID in `spire-server agent list`.
var agentIDPattern = regexp.MustCompile(`spiffe://example\.org/spire/agent/tpm/[0-9a-f]{64}`)

// TestSPIREOnKubernetes deploys SPIRE with hwattest's plugins from
// examples/kubernetes (the test overlay, applied unchanged through a
// kustomization that adds only this run's values), lets the agent attest its
// node with the tpm plugin on swtpm holding a replayed real boot log, and
// checks that a workload pod gets an X509-SVID from an entry that combines
// SPIRE's k8s attestor (namespace, service account), hwattest's container
// attestor (image ID, and provenance signed by the expected workflow) and
// the node's TPM policy (a node alias on tpm:policy:genuine), while a pod of
// an image without provenance, in the same namespace and service account,
// gets none from the same kind of entry. Then it runs the isolation loop
// (testIsolation) on that cluster.
func TestSPIREOnKubernetes(t *testing.T) {
	c := cluster.Start(t)
	spireServer, spireAgent := harness.SPIRE(t)
	tpm := swtpmtest.Start(t, swtpmtest.Options{Unix: true, Dir: filepath.Join(c.Dir, "swtpm")})
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, args := range [][]string{
			{"get", "pods", "-n", "spire", "-o", "wide"},
			{"logs", "-n", "spire", "spire-server-0", "-c", "spire-server", "--tail=80"},
			{"logs", "-n", "spire", "daemonset/spire-agent", "-c", "spire-agent", "--tail=80"},
			{"logs", "-n", "spire", "daemonset/spire-agent", "-c", "spire-agent", "--previous", "--tail=40"},
		} {
			out, err := kubectl(c, args...)
			t.Logf("==== kubectl %s ====\n%s %v", strings.Join(args, " "), out, err)
		}
	})
	kdir := filepath.Join(c.Dir, "kustomize")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		t.Fatal(err)
	}

	// Images: SPIRE's binaries as its images hold them, our plugins with a
	// cp for the init container, and two workloads that differ only in a
	// label (so in their image IDs).
	podbin := c.PodBinary(t)
	for ref, bin := range map[string][2]string{
		"hwattest.test/spire-server:1.13.3": {spireServer, "/opt/spire/bin/spire-server"},
		"hwattest.test/spire-agent:1.13.3":  {spireAgent, "/opt/spire/bin/spire-agent"},
	} {
		files := cluster.HostExecutable(t, bin[0], bin[1])
		c.ImportImage(t, ref, cluster.ImageOptions{
			Files: files, Executable: slices.Collect(maps.Keys(files)), Dirs: []string{"/tmp"},
			Entrypoint: []string{bin[1], "run"},
		})
	}
	bins := buildCommands(t, "./cmd/nodeattestor-tpm-server", "./cmd/nodeattestor-tpm-agent",
		"./cmd/workloadattestor-container", "./cmd/hwattest", "./examples/quickstart/bootreplay")
	pluginFiles := map[string][]byte{"/bin/cp": podbin}
	for _, name := range []string{"nodeattestor-tpm-server", "nodeattestor-tpm-agent", "workloadattestor-container"} {
		pluginFiles["/plugins/"+name] = bins[name]
	}
	c.ImportImage(t, "hwattest.test/hwattest-plugins:dev", cluster.ImageOptions{
		Files: pluginFiles, Executable: slices.Collect(maps.Keys(pluginFiles)),
	})
	c.ImportImage(t, "hwattest.test/hwattest:dev", cluster.ImageOptions{
		Files: map[string][]byte{"/hwattest": bins["hwattest"]}, Executable: []string{"/hwattest"},
		Entrypoint: []string{"/hwattest"},
	})
	workload := c.ImportImage(t, "hwattest.test/workload:1", cluster.ImageOptions{
		Files: map[string][]byte{"/podbin": podbin}, Executable: []string{"/podbin"},
		Entrypoint: []string{"/podbin", "svid"}, Labels: map[string]string{"workload": "1"},
	})
	other := c.ImportImage(t, "hwattest.test/other:1", cluster.ImageOptions{
		Files: map[string][]byte{"/podbin": podbin}, Executable: []string{"/podbin"},
		Entrypoint: []string{"/podbin", "svid"}, Labels: map[string]string{"workload": "other"},
	})

	// The workload image's provenance: a SLSA statement about the digest
	// containerd holds for it, signed by this run's Sigstore as a GitHub
	// workflow of org/app, in the bundle directory the agent reads.
	provDir := filepath.Join(c.Dir, "provenance")
	workloadDigest := c.ImageDigest(t, "hwattest.test/workload:1")
	writeProvenance(t, provDir, workloadDigest)

	// This run's values: checksums, swtpm's EK CA chain, host paths and
	// addresses.
	for name, src := range map[string]string{"swtpm-root.pem": tpm.RootCAPath, "swtpm-issuer.pem": tpm.IssuerCAPath} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(kdir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The node's boot: a real machine's UEFI log (secure boot on) replayed
	// into swtpm, and the log where the agent reads it.
	securityfs := filepath.Join(c.Dir, "securityfs")
	boot := newBootReplay(t, c, tpm, bins["bootreplay"], securityfs)
	boot.replay(t)
	sockets := filepath.Join(c.Dir, "agent-sockets")
	if err := os.MkdirAll(sockets, 0o755); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	// kustomize takes a base outside the kustomization's directory only by
	// a relative path.
	overlay, err := filepath.Rel(kdir, filepath.Join(filepath.Dir(file), "..", "..", "examples", "kubernetes", "overlays", "test"))
	if err != nil {
		t.Fatal(err)
	}
	writeKustomization := func(serverAddress string) {
		t.Helper()
		k := fmt.Sprintf(`apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - %s
configMapGenerator:
  - name: hwattest-plugins
    namespace: spire
    behavior: replace
    options:
      disableNameSuffixHash: true
    literals:
      - HWATTEST_TPM_SERVER_SHA256=%s
      - HWATTEST_TPM_AGENT_SHA256=%s
      - HWATTEST_CONTAINER_SHA256=%s
  - name: hwattest-ek-cas
    namespace: spire
    options:
      disableNameSuffixHash: true
    files:
      - swtpm-root.pem
      - swtpm-issuer.pem
patches:
  - patch: |
      apiVersion: apps/v1
      kind: StatefulSet
      metadata:
        name: spire-server
        namespace: spire
      spec:
        template:
          spec:
            containers:
              - name: spire-server
                env:
                  - name: KUBERNETES_SERVICE_HOST
                    value: %q
                  - name: KUBERNETES_SERVICE_PORT
                    value: "%d"
              - name: hwattest-isolate
                env:
                  - name: KUBERNETES_SERVICE_HOST
                    value: %q
                  - name: KUBERNETES_SERVICE_PORT
                    value: "%d"
  - patch: |
      apiVersion: apps/v1
      kind: DaemonSet
      metadata:
        name: spire-agent
        namespace: spire
      spec:
        template:
          spec:
            containers:
              - name: spire-agent
                env:
                  - name: SPIRE_SERVER_ADDRESS
                    value: %q
                  - name: KUBELET_SECURE_PORT
                    value: "%d"
            volumes:
              - name: spire-agent-sockets
                hostPath:
                  path: %s
              - name: tpm
                hostPath:
                  path: %s
              - name: containerd-socket
                hostPath:
                  path: %s
              - name: securityfs
                hostPath:
                  path: %s
              - name: hwattest-provenance
                hostPath:
                  path: %s
`, overlay, sum(bins["nodeattestor-tpm-server"]), sum(bins["nodeattestor-tpm-agent"]),
			sum(bins["workloadattestor-container"]), c.NodeIP.String(), c.APIServerPort, c.NodeIP.String(), c.APIServerPort,
			serverAddress, c.KubeletPort, sockets, tpm.Dir, c.ContainerdSocket, securityfs, provDir)
		if err := os.WriteFile(filepath.Join(kdir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The server first: the agent needs its pod IP (no cluster DNS, no
	// kube-proxy here). Until then the agent's address is the base's.
	writeKustomization("spire-server.spire.svc")
	start := time.Now()
	c.ApplyKustomization(t, kdir)
	waitFor(t, "spire-server-0 ready", func() error {
		out, err := kubectl(c, "get", "pod", "-n", "spire", "spire-server-0", "-o", `jsonpath={.status.conditions[?(@.type=="Ready")].status}`)
		if err == nil && out != "True" {
			err = fmt.Errorf("ready %q", out)
		}
		return err
	})
	t.Logf("spire-server-0 ready %v after the first apply", time.Since(start).Round(time.Second))
	serverIP := c.Kubectl(t, "get", "pod", "-n", "spire", "spire-server-0", "-o", "jsonpath={.status.podIP}")
	writeKustomization(serverIP)
	c.ApplyKustomization(t, kdir)

	// The agent attests with the tpm plugin; the k8sbundle notifier gave
	// it the trust bundle.
	var agentID, show string
	waitFor(t, "the agent attested", func() error {
		out, err := spireServerCmd(c, "agent", "list")
		if err != nil {
			return err
		}
		if agentID = agentIDPattern.FindString(out); agentID == "" {
			return fmt.Errorf("no tpm agent yet: %s", out)
		}
		return nil
	})
	t.Logf("agent attested %v after the first apply", time.Since(start).Round(time.Second))
	show, err = spireServerCmd(c, "agent", "show", "-spiffeID", agentID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"tpm:policy:genuine", "tpm:policy:secureboot"} {
		if !strings.Contains(show, want) {
			t.Fatalf("agent %s lacks %s:\n%s", agentID, want, show)
		}
	}
	t.Logf("spire-server agent show (in pod spire-server-0):\n%s", show)

	// A node alias for nodes that passed the TPM policy, and the workload
	// entry under it.
	mustSpire(t, c, "entry", "create", "-node", "-spiffeID", "spiffe://example.org/node/tpm-genuine",
		"-selector", "tpm:policy:genuine")
	mustSpire(t, c, "entry", "create", "-parentID", "spiffe://example.org/node/tpm-genuine",
		"-spiffeID", "spiffe://example.org/workload/hello",
		"-selector", "k8s:ns:default", "-selector", "k8s:sa:default",
		"-selector", "container:image_id:"+workload.ConfigDigest, "-selector", "container:provenance:ci")
	// The same for the other image, whose provenance nobody signed.
	mustSpire(t, c, "entry", "create", "-parentID", "spiffe://example.org/node/tpm-genuine",
		"-spiffeID", "spiffe://example.org/workload/other",
		"-selector", "k8s:ns:default", "-selector", "k8s:sa:default",
		"-selector", "container:image_id:"+other.ConfigDigest, "-selector", "container:provenance:ci")

	runWorkload := func(name, image, timeout string) (phase, log string) {
		c.Apply(t, []byte(fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata:
  name: %s
  namespace: default
spec:
  restartPolicy: Never
  containers:
    - name: workload
      image: %s
      imagePullPolicy: Never
      args: ["unix:///run/spire/agent-sockets/spire-agent.sock", %q]
      volumeMounts:
        - name: spire-agent-sockets
          mountPath: /run/spire/agent-sockets
          readOnly: true
  volumes:
    - name: spire-agent-sockets
      hostPath:
        path: %s
        type: Directory
`, name, image, timeout, sockets)))
		phase = waitPodDone(t, c, "default", name, spireTimeout)
		return phase, strings.TrimSpace(c.Kubectl(t, "logs", "-n", "default", name))
	}
	// The entry reaches the agent within its sync interval (5 s): the first
	// pod waits up to 45 s for it. The second runs after the entry is
	// known to be there, so 15 s without an SVID means none is coming.
	phase, log := runWorkload("workload", "hwattest.test/workload:1", "45s")
	if phase != "Succeeded" || log != "ok spiffe://example.org/workload/hello" {
		t.Errorf("workload pod: %s, %q; want Succeeded, %q", phase, log, "ok spiffe://example.org/workload/hello")
	}
	t.Logf("pod workload (image ID %s, digest %s, provenance ci): %s: %s", workload.ConfigDigest, workloadDigest, phase, log)
	phase, log = runWorkload("other", "hwattest.test/other:1", "15s")
	if phase != "Failed" || !strings.HasPrefix(log, "error ") {
		t.Errorf("pod of an image without provenance: %s, %q; want Failed with an error (no SVID)", phase, log)
	}
	t.Logf("pod other: %s: %s", phase, log)
	agentLog, _ := kubectl(c, "logs", "-n", "spire", "daemonset/spire-agent", "-c", "spire-agent")
	checks := grepLines(agentLog, "Image provenance checked")
	if !strings.Contains(checks, workloadDigest) {
		t.Errorf("the agent logged no provenance check of %s:\n%s", workloadDigest, checks)
	}
	t.Logf("the agent's provenance checks:\n%s", checks)

	t.Run("isolation", func(t *testing.T) { testIsolation(t, c, boot, agentID) })
}

// writeProvenance writes, under dir, a trusted_root.json of a new test
// Sigstore and, in the bundle directory layout
// (bundles/sha256-<hex>/*.json), its signed SLSA provenance of the image
// whose manifest digest is digest.
func writeProvenance(t *testing.T, dir, digest string) {
	t.Helper()
	hexDigest := strings.TrimPrefix(digest, "sha256:")
	bundleDir := filepath.Join(dir, "bundles", "sha256-"+hexDigest)
	if err := os.MkdirAll(bundleDir, 0o755); err != nil {
		t.Fatal(err)
	}
	sig := provenancetest.Start(t, filepath.Join(dir, "trusted_root.json"))
	bundle := sig.AttestSLSA(t, provenancetest.GitHub("org/app"), hexDigest,
		provenancetest.GitHubBuilderID, provenancetest.GitHubBuildType, provenancetest.Options{})
	if err := os.WriteFile(filepath.Join(bundleDir, "provenance.sigstore.json"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
}

// buildCommands builds the commands in the named packages (paths from the
// repository's root) statically, as they run in images with no libraries,
// and returns their contents by command name.
func buildCommands(t *testing.T, pkgs ...string) map[string][]byte {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	dir := t.TempDir()
	args := append([]string{"build", "-trimpath", "-o", dir + "/"}, pkgs...)
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := map[string][]byte{}
	for _, pkg := range pkgs {
		n := filepath.Base(pkg)
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = b
	}
	return out
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// kubectl runs kubectl through the cluster without failing the test.
func kubectl(c *cluster.Cluster, args ...string) (string, error) {
	out, err := c.TryKubectl(args...)
	return strings.TrimSpace(out), err
}

// spireServerCmd runs a spire-server command in the server's pod.
func spireServerCmd(c *cluster.Cluster, args ...string) (string, error) {
	return kubectl(c, append([]string{"exec", "-n", "spire", "spire-server-0", "-c", "spire-server", "--",
		"/opt/spire/bin/spire-server"}, args...)...)
}

func mustSpire(t *testing.T, c *cluster.Cluster, args ...string) {
	t.Helper()
	if out, err := spireServerCmd(c, args...); err != nil {
		t.Fatalf("spire-server %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// waitFor polls fn every second until it succeeds, for spireTimeout.
func waitFor(t *testing.T, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(spireTimeout)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after %v: %v", what, spireTimeout, err)
		}
		time.Sleep(time.Second)
	}
}
