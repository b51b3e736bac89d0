package container_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"testing"
	"time"

	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/workloadattestor/container"
)

// benchEnv is a plugin with the real Docker Engine API client against a
// fake daemon that answers with podman's recorded bodies, two podman
// containers (PIDs 100 and 101) in a fake procfs.
type benchEnv struct {
	daemon *fakeDaemon
	proc   *fakeProc
}

func newBenchEnv(tb testing.TB) *benchEnv {
	tb.Helper()
	b := &benchEnv{daemon: newFakeDaemon(tb), proc: newFakeProc(tb)}
	for i, id := range []string{idA, idB} {
		b.daemon.addPodmanPID(id, 100+i) // each process is its container's first
		b.proc.add(tb, 100+i, podmanCgroup(id), 1)
	}
	return b
}

func (b *benchEnv) hcl(extra string) string {
	return fmt.Sprintf("runtime \"podman\" {\n  type    = \"docker\"\n  address = %q\n}\n%s", b.daemon.socket, extra)
}

// plugin returns a plugin on b's procfs, configured, called directly.
func (b *benchEnv) plugin(tb testing.TB, extra string) *container.Plugin {
	tb.Helper()
	p := container.NewForTest(b.proc.dir, func(typ, address string) (container.Runtime, error) {
		return container.NewDocker(address), nil
	}, time.Now)
	if _, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: b.hcl(extra)}); err != nil {
		tb.Fatal(err)
	}
	return p
}

func attestDirect(b *testing.B, p *container.Plugin, pid int) {
	resp, err := p.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pid)})
	if err != nil {
		b.Fatal(err)
	}
	if len(resp.SelectorValues) != 5 {
		b.Fatalf("selectors %q", resp.SelectorValues)
	}
}

// BenchmarkAttestCached is a repeated Attest of one process: its reads
// through one /proc handle (stat twice, cgroup, two namespaces), a cache
// hit, the container's process's stat, and the confirmation.
func BenchmarkAttestCached(b *testing.B) {
	env := newBenchEnv(b)
	p := env.plugin(b, "")
	attestDirect(b, p, 100)
	for b.Loop() {
		attestDirect(b, p, 100)
	}
}

// BenchmarkAttestUncached alternates two containers with a cache of one, so
// every Attest inspects a container and its image over the Docker Engine
// API.
func BenchmarkAttestUncached(b *testing.B) {
	env := newBenchEnv(b)
	p := env.plugin(b, "cache_size = 1")
	i := 0
	for b.Loop() {
		attestDirect(b, p, 100+i%2)
		i++
	}
}

// BenchmarkDockerInspect is one container inspect as SPIRE's docker
// attestor makes it on every call: GET /containers/{id}/json on the unix
// socket, the body (podman's, about 4.5 KiB) read and decoded whole.
func BenchmarkDockerInspect(b *testing.B) {
	env := newBenchEnv(b)
	client := containertest.UnixClient(env.daemon.socket)
	for b.Loop() {
		inspectOnce(b, client, idA)
	}
}

// inspectOnce is one GET /containers/{id}/json with the body decoded.
func inspectOnce(b *testing.B, client *http.Client, id string) {
	resp, err := client.Get("http://docker/containers/" + id + "/json")
	if err != nil {
		b.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("inspect: %v %s", err, resp.Status)
	}
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		b.Fatal(err)
	}
}

// TestBenchmarkRatio runs the benchmarks above in one process, and cached
// Attest through the go-plugin gRPC boundary as the SPIRE agent calls it,
// and reports cached Attest against one Docker Engine API inspect:
//
//	HWATTEST_BENCH=1 go test -run TestBenchmarkRatio -v ./workloadattestor/container/
func TestBenchmarkRatio(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to run the benchmark")
	}
	env := newBenchEnv(t)
	client := serveDockerPlugin(t, env.proc.dir, env.hcl(""))
	throughPlugin := func(b *testing.B) {
		for b.Loop() {
			if _, err := client.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: 100}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for round := range 3 {
		cached := testing.Benchmark(BenchmarkAttestCached)
		uncached := testing.Benchmark(BenchmarkAttestUncached)
		inspect := testing.Benchmark(BenchmarkDockerInspect)
		plugin := testing.Benchmark(throughPlugin)
		t.Logf("round %d", round)
		for _, r := range []struct {
			name string
			r    testing.BenchmarkResult
		}{{"Attest cached", cached}, {"Attest cached via go-plugin", plugin}, {"Attest uncached", uncached}, {"Docker inspect", inspect}} {
			t.Logf("  %-28s %8d ns/op %6d B/op %4d allocs/op", r.name, r.r.NsPerOp(), r.r.AllocedBytesPerOp(), r.r.AllocsPerOp())
		}
		t.Logf("  inspect / cached Attest = %.1fx; inspect / cached Attest via go-plugin = %.1fx",
			float64(inspect.NsPerOp())/float64(cached.NsPerOp()), float64(inspect.NsPerOp())/float64(plugin.NsPerOp()))
	}
}
