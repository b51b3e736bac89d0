package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

var (
	mtlsOnce sync.Once
	mtlsDir  string
	mtlsErr  error
)

// mtlsBinaries builds examples/mtls's server and client statically (the
// client runs in an image without a libc) once per test binary and returns
// their directory.
func mtlsBinaries(t *testing.T) string {
	t.Helper()
	mtlsOnce.Do(func() {
		mtlsDir, mtlsErr = os.MkdirTemp("", "hwattest-mtls-")
		if mtlsErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", mtlsDir+"/", "./examples/mtls/server", "./examples/mtls/client")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			mtlsErr = fmt.Errorf("go build ./examples/mtls/...: %w\n%s", err, out)
		}
	})
	if mtlsErr != nil {
		t.Fatal(mtlsErr)
	}
	return mtlsDir
}

// composerPlugin is the server's CredentialComposer block for our
// attestation composer, reading entries through the server's admin socket.
func composerPlugin(t *testing.T, serverSocket string) string {
	t.Helper()
	p := harness.Plugins(t)["credentialcomposer-attestation"]
	return fmt.Sprintf(`
  CredentialComposer "attestation" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {
      server_socket_path = %q
    }
  }
`, p.Path, p.Checksum, serverSocket)
}

// TestMTLSExample runs examples/mtls through real SPIRE with our tpm node
// attestor (a secure boot policy), our container and exe workload attestors
// and our attestation composer: the server (on the host, registered by its
// executable's hash) requires of its clients the image digest of the client
// image and the node policy "secureboot". The client in a containerd
// container of that image is admitted; the same client program on the host,
// registered by its executable's hash (an entry without the image digest),
// is refused in the handshake, and the server logs why.
func TestMTLSExample(t *testing.T) {
	harness.SPIRE(t)
	bins := mtlsBinaries(t)
	ctrd := containertest.StartContainerd(t)
	reg := containertest.StartRegistry(t)
	port := harness.FreePort(t)
	url := fmt.Sprintf("https://127.0.0.1:%d/", port)
	td := "spiffe://" + harness.TrustDomain
	serverID, clientID, otherID := td+"/mtls/server", td+"/mtls/client", td+"/mtls/other-client"

	img := containertest.Build(t, containertest.ImageOptions{
		Files:      map[string][]byte{"/client": containertest.ReadFile(t, filepath.Join(bins, "client"))},
		Executable: []string{"/client"},
		Dirs:       []string{"/spire", "/tmp"},
		Entrypoint: []string{"/client"},
		Cmd:        []string{"-socket", containerSock, "-server", url, "-server-id", serverID, "-timeout", "60s"},
	})
	ref := reg.Push(t, img, "mtls-client:v1")
	ctrd.Pull(t, "k8s.io", ref)

	// The node: a swtpm with a recorded secure boot log replayed, attested
	// with a secure boot policy.
	n := newNode(t, swtpmtest.Options{})
	dir := harness.Dir(t)
	plugins := harness.Plugins(t)
	server := harness.StartServer(t, harness.ServerConfig{
		Dir:          dir,
		NodeAttestor: n.caConfig() + "\npolicy \"secureboot\" {\n  secure_boot = true\n}",
		ExtraPlugins: composerPlugin(t, filepath.Join(dir, "api.sock")),
	})
	ctr, exe := plugins["workloadattestor-container"], plugins["workloadattestor-exe"]
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig(), ExtraPlugins: fmt.Sprintf(`
  WorkloadAttestor "exe" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {}
  }
  WorkloadAttestor "container" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {
      runtime "containerd" {
        address = %q
      }
    }
  }
`, exe.Path, exe.Checksum, ctr.Path, ctr.Checksum, ctrd.Socket)})
	socket := "unix://" + agent.Socket

	// Another client: the same program with one byte more, so that only
	// its own entry (by executable hash, no image digest) matches it.
	other := filepath.Join(harness.Dir(t), "other-client")
	b := containertest.ReadFile(t, filepath.Join(bins, "client"))
	if err := os.WriteFile(other, append(b, 0), 0o755); err != nil {
		t.Fatal(err)
	}
	server.CreateEntry(t, n.agentID(), serverID, "exe:sha256:"+sha256File(t, filepath.Join(bins, "server")))
	server.CreateEntry(t, n.agentID(), clientID, "container:image_digest:"+img.Digest)
	server.CreateEntry(t, n.agentID(), otherID, "exe:sha256:"+sha256File(t, other))

	srv := harness.Start(t, harness.Dir(t), "mtls-server", filepath.Join(bins, "server"),
		"-socket", socket, "-addr", "127.0.0.1:"+strconv.Itoa(port),
		"-image-digest", img.Digest, "-node-policy", "secureboot")
	srv.WaitLog(t, "serving on "+url, 60*time.Second)

	// The attested client, in a container of the required image.
	out := harness.Dir(t)
	id := randomHex(t)
	logFile := filepath.Join(out, "client.log")
	ctrd.Run(t, containertest.RunOptions{
		Namespace: "k8s.io", Image: ref, ID: id,
		Cgroup:  "/kubepods/besteffort/pod6f3c2a1e-0b7d-4e9a-8c5f-" + id[:12] + "/" + id,
		Binds:   map[string]string{filepath.Dir(agent.Socket): "/spire"},
		NetHost: true,
		LogFile: logFile,
	})
	srv.WaitLog(t, "admitted "+clientID, 90*time.Second)
	var clientOut string
	if err := harness.Eventually(30*time.Second, func() error {
		b, _ := os.ReadFile(logFile)
		clientOut = string(b)
		if !strings.Contains(clientOut, "server answered 200 OK") {
			return fmt.Errorf("the client printed:\n%s", clientOut)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"hello " + clientID + "\n",
		"  workload: container:image_digest:" + img.Digest + "\n",
		"tpm:policy:secureboot",
	} {
		if !strings.Contains(clientOut, want) {
			t.Errorf("the admitted client's answer lacks %q:\n%s", want, clientOut)
		}
	}
	t.Logf("attested client (container):\n%s", clientOut)

	// The client from an entry without the required claim: refused.
	var otherOut string
	if err := harness.Eventually(60*time.Second, func() error {
		o, err := harness.Run(t.Context(), other, "-socket", socket, "-server", url, "-server-id", serverID, "-timeout", "20s")
		otherOut = o
		if err == nil {
			return harness.Permanent(fmt.Errorf("the other client was admitted:\n%s", o))
		}
		if !strings.Contains(o, "client SVID: "+otherID) {
			return fmt.Errorf("the other client has no SVID yet:\n%s", o)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "refused " + otherID + ": peer " + otherID + ": claims: no image digest in the workload claims"
	srv.WaitLog(t, want, 10*time.Second)
	if strings.Contains(otherOut, "server answered") {
		t.Errorf("the refused client got an answer:\n%s", otherOut)
	}
	t.Logf("client without the image digest (host):\n%s", otherOut)
	t.Logf("server:\n%s", srv.LogText())
}
