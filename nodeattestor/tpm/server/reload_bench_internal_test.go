package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/evidence/capture"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// TestBenchmarkReloadCheck measures, in one run, what every attestation
// now pays to notice changed configuration files (reading and hashing the
// EK hash allowlist, the EK CA files and the policy files, unchanged) against
// the verification of one attestation's evidence (EK chain, AK, quote, the
// cryptography every attestation does; offline, from an evidence file
// captured on swtpm). It reports; it asserts nothing about time:
//
//	HWATTEST_BENCH=1 go test -run TestBenchmarkReloadCheck -v ./nodeattestor/tpm/server/
func TestBenchmarkReloadCheck(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to run the benchmark")
	}
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	tpm, err := attester.Open(sw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	f, _, err := capture.Evidence(tpm, capture.Options{Address: sw.Addr, EventLogPath: "-"})
	tpm.Close()
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := sw.CertPools(t)
	ek := tpmquote.EKPolicy{Roots: roots, Intermediates: inter}

	// A large configuration: the 51 bundled CA files as ek_ca_paths files
	// (plus swtpm's two), the four level templates and the level 4
	// allowlist as policy files, an allowlist of 1000 EK hashes.
	dir := t.TempDir()
	caDir := filepath.Join(dir, "ca")
	if err := os.MkdirAll(caDir, 0o700); err != nil {
		t.Fatal(err)
	}
	pems, err := filepath.Glob("ekca/*.pem")
	if err != nil || len(pems) != 51 {
		t.Fatalf("bundled PEMs %d, %v", len(pems), err)
	}
	for _, p := range append(pems, sw.RootCAPath, sw.IssuerCAPath) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(caDir, filepath.Base(p)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var hashes strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&hashes, "%064x\n", i)
	}
	hashFile := filepath.Join(dir, "ek-hashes")
	if err := os.WriteFile(hashFile, []byte(hashes.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := buildConfig(fmt.Sprintf(`ek_ca_paths = [%q]
ek_hash_paths = [%q]
require = "either"
pcrs = { sha256 = [0, 1, 2, 3, 4, 5, 6, 7, 10] }
policy_paths = ["../../../examples/policies"]`, caDir, hashFile), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	// A typical one: swtpm's two CA files and the level templates.
	typical, err := buildConfig(fmt.Sprintf(`ek_ca_paths = [%q, %q]
pcrs = { sha256 = [0, 1, 2, 3, 4, 5, 6, 7, 10] }
policy_paths = ["../../../examples/policies"]`, sw.RootCAPath, sw.IssuerCAPath), "example.org")
	if err != nil {
		t.Fatal(err)
	}
	checkOf := func(c *config) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				refreshes := []func() (bool, error){c.cas.refresh, c.policies.refresh}
				if c.allow != nil {
					refreshes = append(refreshes, c.allow.refresh)
				}
				for _, refresh := range refreshes {
					if changed, err := refresh(); changed || err != nil {
						b.Fatalf("unchanged files reloaded: %v %v", changed, err)
					}
				}
			}
		}
	}
	verify := func(b *testing.B) {
		for b.Loop() {
			if _, err := f.Verify(evidence.Options{EK: ek}); err != nil {
				b.Fatal(err)
			}
		}
	}
	for round := range 3 {
		rl, rt, rv := testing.Benchmark(checkOf(c)), testing.Benchmark(checkOf(typical)), testing.Benchmark(verify)
		if rl.N == 0 || rt.N == 0 || rv.N == 0 {
			t.Fatal("a benchmark failed")
		}
		t.Logf("round %d: evidence verification %d ns/op; reload check, large configuration (53 CA files, 1000 EK hashes, 4 policy files + allowlist) %d ns/op = %.3f of it; typical (2 CA files, 4 policy files + allowlist) %d ns/op = %.3f",
			round, rv.NsPerOp(), rl.NsPerOp(), float64(rl.NsPerOp())/float64(rv.NsPerOp()), rt.NsPerOp(), float64(rt.NsPerOp())/float64(rv.NsPerOp()))
	}
}
