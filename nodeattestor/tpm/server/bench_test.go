package server_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// TestBenchmarkPluginOverhead measures, in one run, one whole node
// attestation through both plugins across the go-plugin gRPC boundary and
// the same TPM work and verification done with the libraries directly, the
// simulator answering over TCP in both. It reports; it asserts nothing about
// time. plugintest needs a *testing.T, hence a test that runs
// testing.Benchmark rather than a Benchmark function:
//
//	HWATTEST_BENCH=1 go test -run TestBenchmarkPluginOverhead -v ./nodeattestor/tpm/server/
func TestBenchmarkPluginOverhead(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to run the benchmark")
	}
	addr, caPath, ca := certifiedSimulator(t, "bench EK CA")
	sc, ac := servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q]", caPath), fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", addr))
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Roots: ca.Pool()}})
	if err != nil {
		t.Fatal(err)
	}
	bare := func(b *testing.B) {
		for b.Loop() {
			tpm, err := attester.Open(addr)
			if err != nil {
				b.Fatal(err)
			}
			s, att, err := attester.Begin(tpm, attester.Config{EventLogPath: "-"})
			if err != nil {
				b.Fatal(err)
			}
			ch, session, err := v.Challenge(att)
			if err != nil {
				b.Fatal(err)
			}
			resp, err := s.Respond(ch)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := session.Verify(resp); err != nil {
				b.Fatal(err)
			}
			s.Close()
			tpm.Close()
		}
	}
	plugin := func(b *testing.B) {
		for b.Loop() {
			if _, err := attestB(sc, ac); err != nil {
				b.Fatal(err)
			}
		}
	}
	for round := 0; round < 3; round++ {
		rb, rp := testing.Benchmark(bare), testing.Benchmark(plugin)
		t.Logf("round %d: bare %d ns/op (%d allocs), plugins %d ns/op (%d allocs), plugins/bare %.3f",
			round, rb.NsPerOp(), rb.AllocsPerOp(), rp.NsPerOp(), rp.AllocsPerOp(), float64(rp.NsPerOp())/float64(rb.NsPerOp()))
	}
}
