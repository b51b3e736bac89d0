package container_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"

	"github.com/hwattest/hwattest/internal/provenancetest"
	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

// TestProvenanceBenchmarkRatio measures, in one run: a cached Attest with
// provenance against one without (the same container, fake runtime and
// procfs); one bundle's verification (sigstore-go, uncached); one uncached
// check of an image in the in-process registry (referrers, manifest, bundle
// and verification); and `hwattest provenance` on the same image (a
// process: start, policy and trusted root read, registry, verification).
//
//	HWATTEST_BENCH=1 go test -run TestProvenanceBenchmarkRatio -v ./workloadattestor/container/
func TestProvenanceBenchmarkRatio(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to run the benchmark")
	}
	si := newSignedImage(t, provenancetest.GitHub("org/app"))
	plain, prov := newEnv(t), newEnv(t)
	pids := map[*env]int{}
	for e, cfg := range map[*env]string{
		plain: "runtime \"containerd\" {\n  address = \"/run/containerd/containerd.sock\"\n}",
		prov:  si.config(""),
	} {
		ctrd := e.runtime("/run/containerd/containerd.sock")
		e.configure(t, cfg)
		pids[e] = e.run(t, ctrd, idA, si.info(), ctrCgroup(idA))
	}
	attest := func(e *env, want int) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				resp, err := e.plugin.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: int32(pids[e])})
				if err != nil || len(resp.SelectorValues) != want {
					b.Fatalf("%v %q", err, resp.GetSelectorValues())
				}
			}
		}
	}
	// Warm both caches.
	if _, err := plain.attest(pids[plain]); err != nil {
		t.Fatal(err)
	}
	sel, err := prov.attest(pids[prov])
	if err != nil || !slices.Contains(sel, "provenance:ci") {
		t.Fatalf("%v %q", err, sel)
	}

	policies, err := provenance.CompilePolicies(map[string]provenance.PolicyConfig{"ci": {
		TrustedRootPaths: []string{si.rootPath}, Issuer: "https://token.actions.githubusercontent.com",
		SANRegex: "https://github.com/org/app/.+", SourceRepository: "https://github.com/org/app",
		BuilderIDs: []string{"https://builder.example/v1"}, CTLogThreshold: new(int),
	}})
	if err != nil {
		t.Fatal(err)
	}
	bundle := si.sig.AttestSLSA(t, provenancetest.GitHub("org/app"), strings.TrimPrefix(si.digest, "sha256:"),
		"https://builder.example/v1", "https://build.example/type", provenancetest.Options{})
	verifyOne := func(b *testing.B) {
		for b.Loop() {
			if r := provenance.Verify(policies, si.digest, []provenance.Candidate{{Origin: "bench", Raw: bundle}}); !r[0].Satisfied() {
				b.Fatalf("%+v", r[0])
			}
		}
	}
	checkUncached := func(b *testing.B) {
		reg := provenance.NewRegistry(nil)
		for b.Loop() {
			c := provenance.NewChecker(policies, "", reg, 1, nil)
			if r, _ := c.Check(context.Background(), si.repo.Name(), si.digest); len(r.Satisfied) != 1 {
				b.Fatalf("%+v", r)
			}
		}
	}

	// hwattest provenance, as a process.
	bin := filepath.Join(t.TempDir(), "hwattest")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/hwattest")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	policyFile := filepath.Join(t.TempDir(), "policy.hcl")
	text := strings.SplitN(si.config(""), "provenance \"ci\"", 2)[1]
	if err := os.WriteFile(policyFile, []byte("provenance \"ci\""+text), 0o644); err != nil {
		t.Fatal(err)
	}
	cli := func() time.Duration {
		began := time.Now()
		out, err := exec.Command(bin, "provenance", "--policy", policyFile, si.repo.Name()+"@"+si.digest).CombinedOutput()
		if err != nil {
			t.Fatalf("hwattest provenance: %v\n%s", err, out)
		}
		return time.Since(began)
	}

	for round := range 3 {
		without := testing.Benchmark(attest(plain, 5))
		with := testing.Benchmark(attest(prov, len(sel)))
		ver := testing.Benchmark(verifyOne)
		unc := testing.Benchmark(checkUncached)
		var runs []time.Duration
		for range 5 {
			runs = append(runs, cli())
		}
		slices.Sort(runs)
		t.Logf("round %d", round)
		for _, r := range []struct {
			name string
			r    testing.BenchmarkResult
		}{{"Attest cached, no provenance", without}, {"Attest cached, provenance", with}, {"verify one bundle", ver}, {"check uncached (registry+verify)", unc}} {
			t.Logf("  %-34s %9d ns/op %7d B/op %5d allocs/op", r.name, r.r.NsPerOp(), r.r.AllocedBytesPerOp(), r.r.AllocsPerOp())
		}
		t.Logf("  %-34s %9d ns (median of 5 runs)", "hwattest provenance (process)", runs[2].Nanoseconds())
		t.Logf("  cached Attest with/without provenance = %.2fx; uncached check / verify = %.2fx; CLI / uncached check = %.1fx",
			float64(with.NsPerOp())/float64(without.NsPerOp()), float64(unc.NsPerOp())/float64(ver.NsPerOp()),
			float64(runs[2].Nanoseconds())/float64(unc.NsPerOp()))
	}
}
