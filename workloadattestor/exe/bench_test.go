package exe_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/workloadattestor/exe"
)

// configured returns a plugin configured with hcl, called directly (no
// gRPC): what the plugin itself costs.
func configured(b *testing.B, hcl string) *exe.Plugin {
	b.Helper()
	p := exe.New()
	if _, err := p.Configure(context.Background(), &configv1.ConfigureRequest{HclConfiguration: hcl}); err != nil {
		b.Fatal(err)
	}
	return p
}

func attestDirect(b *testing.B, p *exe.Plugin, pid int) {
	if _, err := p.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pid)}); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAttestCached is a repeated Attest of one process: the /proc
// lookups, open, fstat and inode checks, and a cache hit.
func BenchmarkAttestCached(b *testing.B) {
	p := configured(b, "")
	pid := start(b, nil, sleeper(b, nil), "600")
	attestDirect(b, p, pid)
	for b.Loop() {
		attestDirect(b, p, pid)
	}
}

// BenchmarkAttestCachedIMA adds the IMA anchor's lookup (a verified log of
// one entry, already read).
func BenchmarkAttestCachedIMA(b *testing.B) {
	node := newIMANode(b)
	path := sleeper(b, nil)
	node.measure(path, true)
	p := configured(b, node.hcl())
	pid := start(b, nil, path, "600")
	attestDirect(b, p, pid)
	for b.Loop() {
		attestDirect(b, p, pid)
	}
}

// BenchmarkAttestUncached alternates two files with a cache of one hash, so
// every Attest reads and hashes its file: the cost grows with the size.
func BenchmarkAttestUncached(b *testing.B) {
	for _, extra := range []int{0, 16 << 20} {
		b.Run(fmt.Sprintf("sleep+%dMiB", extra>>20), func(b *testing.B) {
			p := configured(b, "hash_cache_size = 1")
			pids := make([]int, 2)
			var size int64
			for i := range pids {
				path := sleeper(b, append(make([]byte, extra), byte(i)))
				fi, err := os.Stat(path)
				if err != nil {
					b.Fatal(err)
				}
				size = fi.Size()
				pids[i] = start(b, nil, path, "600")
			}
			b.SetBytes(size)
			i := 0
			for b.Loop() {
				attestDirect(b, p, pids[i%2])
				i++
			}
		})
	}
}

// TestBenchmarkAttestThroughPlugin measures cached and uncached Attest across
// the go-plugin gRPC boundary, as the SPIRE agent calls it, and with IMA
// anchoring on (swtpm). plugintest needs a *testing.T, hence a test that runs
// testing.Benchmark:
//
//	HWATTEST_BENCH=1 go test -run TestBenchmarkAttestThroughPlugin -v ./workloadattestor/exe/
func TestBenchmarkAttestThroughPlugin(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to run the benchmark")
	}
	path := sleeper(t, nil)
	pid := start(t, nil, path, "600")
	other := start(t, nil, sleeper(t, []byte("other")), "600")
	node := newIMANode(t)
	node.measure(path, true)

	run := func(name, hcl string, pids ...int) {
		client := servePlugin(t, exe.New(), hcl, nil)
		r := testing.Benchmark(func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, err := attest(client, pids[i%len(pids)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		t.Logf("%-28s %8d ns/op %6d B/op %4d allocs/op", name, r.NsPerOp(), r.AllocedBytesPerOp(), r.AllocsPerOp())
	}
	for round := range 3 {
		t.Logf("round %d", round)
		run("cached", "", pid)
		run("uncached (sleep, 2 files)", "hash_cache_size = 1", pid, other)
		run("cached, IMA anchored", node.hcl(), pid)
	}
}
