package container_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/workloadattestor/container"
)

// TestMissingSocketFailsFast: with containerd's and podman's sockets both
// absent, a workload in a container gets Unavailable at once, naming each
// socket, instead of the containerd client waiting for its socket until
// the plugin's timeout (which left the workload's fetch to time out on the
// client).
func TestMissingSocketFailsFast(t *testing.T) {
	proc := newFakeProc(t)
	id := strings.Repeat("c", 64)
	proc.add(t, 4242, containerdPodCgroup(id), 1)
	dir := t.TempDir()
	containerd, podman := filepath.Join(dir, "containerd.sock"), filepath.Join(dir, "podman.sock")
	p := container.NewForTest(proc.dir, container.Dial, time.Now)
	hcl := `timeout = "30s"
runtime "containerd" {
  address = "` + containerd + `"
}
runtime "podman" {
  type    = "docker"
  address = "` + podman + `"
}`
	if _, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: hcl}); err != nil {
		t.Fatal(err)
	}
	// The request's deadline is far beyond anything a missing socket
	// should take; that it has not passed shows no one waited for it.
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	_, err := p.Attest(ctx, &workloadattestorv1.AttestRequest{Pid: 4242})
	if ctx.Err() != nil {
		t.Fatalf("the attestation waited for the request's deadline: %v", err)
	}
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("err = %v, want Unavailable", err)
	}
	for _, want := range []string{
		`runtime "containerd" did not answer: socket does not exist: ` + containerd + ` (is the runtime running?)`,
		`runtime "podman" did not answer: socket does not exist: ` + podman + ` (is the runtime running?)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v\nlacks %q", err, want)
		}
	}
}
