package integration_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"

	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/workloadattestor/container"
)

// TestContainerAttestCost measures, against real podman containers and
// podman's Docker-compatible API service, in one run: the container
// plugin's Attest of a container process (cached: /proc reads and a cache
// hit; uncached: a container and an image inspect), and one container
// inspect, what SPIRE's docker attestor pays on every workload API call.
// The plugin is called in process (no go-plugin hop). It reports; it asserts
// nothing about time.
//
//	HWATTEST_BENCH=1 go test -run TestContainerAttestCost -v ./test/integration/
func TestContainerAttestCost(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to measure")
	}
	pm := containertest.StartPodman(t)
	service := pm.Service(t)
	reg := containertest.StartRegistry(t)
	ref := reg.Push(t, workloadImage(t, "bench"), "wl:v1")
	pm.Pull(t, ref)
	ids := make([]string, 2)
	pids := make([]int, 2)
	for i := range ids {
		ids[i], pids[i] = pm.Run(t, ref, map[string]string{t.TempDir(): "/out", t.TempDir(): "/spire"})
	}

	plugin := func(extra string) *container.Plugin {
		p := container.New()
		hcl := fmt.Sprintf("runtime \"podman\" {\n  type = \"docker\"\n  address = %q\n}\n%s", service.Socket, extra)
		if _, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: hcl}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	attest := func(b *testing.B, p *container.Plugin, pid int) {
		resp, err := p.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pid)})
		if err != nil || len(resp.SelectorValues) != 5 {
			b.Fatalf("attest pid %d: %v %q", pid, err, resp.GetSelectorValues())
		}
	}
	cachedPlugin, uncachedPlugin := plugin(""), plugin("cache_size = 1")
	client := containertest.UnixClient(service.Socket)

	cached := func(b *testing.B) {
		attest(b, cachedPlugin, pids[0])
		for b.Loop() {
			attest(b, cachedPlugin, pids[0])
		}
	}
	uncached := func(b *testing.B) {
		i := 0
		for b.Loop() {
			attest(b, uncachedPlugin, pids[i%2])
			i++
		}
	}
	inspect := func(b *testing.B) {
		for b.Loop() {
			resp, err := client.Get("http://podman/containers/" + ids[0] + "/json")
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != http.StatusOK {
				b.Fatalf("inspect: %v %s", err, resp.Status)
			}
		}
	}
	for round := range 3 {
		c, u, in := testing.Benchmark(cached), testing.Benchmark(uncached), testing.Benchmark(inspect)
		t.Logf("round %d: Attest cached %d ns/op (%d allocs); Attest uncached %d ns/op; podman container inspect %d ns/op; inspect / cached Attest = %.1fx",
			round, c.NsPerOp(), c.AllocsPerOp(), u.NsPerOp(), in.NsPerOp(), float64(in.NsPerOp())/float64(c.NsPerOp()))
	}
}
