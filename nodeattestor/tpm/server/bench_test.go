package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/internal/tpmtest"
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

// TestBenchmarkServerSide measures what the SPIRE server pays per
// attestation, without the TPM's time: the server plugin across the
// go-plugin gRPC boundary (payload in -> challenge out, response in -> agent
// attributes out, including config, policy and selectors) against the bare
// tpmquote verifier (Challenge + Verify) in the same run. The TPM is swtpm,
// another process, as in a deployment; the agent side's TPM work happens in
// both loops outside the measured spans, so each challenge is answered by a
// real quote. It reports the server-side wall time (mean and median) and the
// process CPU time per attestation (which holds the same agent-side
// encoding in both loops, and no TPM work). The node has a real boot log
// (replayed into swtpm's PCRs) and a persisted AK, as a production agent
// would.
//
//	HWATTEST_BENCH=1 go test -run TestBenchmarkServerSide -v ./nodeattestor/tpm/server/
func TestBenchmarkServerSide(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to run the benchmark")
	}
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	raw, err := os.ReadFile("../../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin")
	if err != nil {
		t.Fatal(err)
	}
	addr := sw.Addr
	func() {
		tpm, err := attester.Open(addr)
		if err != nil {
			t.Fatal(err)
		}
		defer tpm.Close()
		tpmtest.ReplayEventLog(t, tpm, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
	}()
	dir := t.TempDir()
	logPath := filepath.Join(dir, "eventlog.bin")
	if err := os.WriteFile(logPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := attester.Config{EventLogPath: logPath, AKPath: filepath.Join(dir, "ak.json")}
	sc, _ := servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q, %q]", sw.RootCAPath, sw.IssuerCAPath), fmt.Sprintf("tpm = %q", addr))
	roots, inter := sw.CertPools(t)
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Roots: roots, Intermediates: inter}})
	if err != nil {
		t.Fatal(err)
	}
	tpm, err := attester.Open(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()

	// begin runs the agent's first step (TPM work, not measured).
	begin := func(b *testing.B) (*attester.Session, []byte) {
		s, att, err := attester.Begin(tpm, cfg)
		if err != nil {
			b.Fatal(err)
		}
		payload, err := att.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		return s, payload
	}
	answer := func(b *testing.B, s *attester.Session, challenge []byte) []byte {
		ch, err := tpmquote.DecodeChallenge(challenge)
		if err != nil {
			b.Fatal(err)
		}
		resp, err := s.Respond(ch)
		if err != nil {
			b.Fatal(err)
		}
		out, err := resp.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		return out
	}
	// report gives the mean and the median of the server-side spans (the
	// median is robust to scheduling delays of single gRPC hops) and the
	// process CPU time per attestation.
	var cpuStart int64
	report := func(b *testing.B, spans, first []time.Duration) {
		cpu := cpuTime() - cpuStart
		var sum time.Duration
		for _, d := range spans {
			sum += d
		}
		slices.Sort(spans)
		b.ReportMetric(float64(cpu)/float64(len(spans)), "cpu-ns/op")
		b.ReportMetric(float64(sum.Nanoseconds())/float64(len(spans)), "server-ns/op")
		b.ReportMetric(float64(spans[len(spans)/2].Nanoseconds()), "server-median-ns")
		slices.Sort(first)
		b.ReportMetric(float64(first[len(first)/2].Nanoseconds()), "challenge-median-ns")
	}
	bare := func(b *testing.B) {
		cpuStart = cpuTime()
		var spans, first []time.Duration
		for b.Loop() {
			var server time.Duration
			s, payload := begin(b)
			start := time.Now()
			att, err := tpmquote.DecodeAttestation(payload)
			if err != nil {
				b.Fatal(err)
			}
			ch, session, err := v.Challenge(att)
			if err != nil {
				b.Fatal(err)
			}
			challenge, err := ch.Marshal()
			if err != nil {
				b.Fatal(err)
			}
			server += time.Since(start)
			first = append(first, server)
			response := answer(b, s, challenge)
			start = time.Now()
			resp, err := tpmquote.DecodeResponse(response)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := session.Verify(resp); err != nil {
				b.Fatal(err)
			}
			server += time.Since(start)
			spans = append(spans, server)
			s.Close()
		}
		report(b, spans, first)
	}
	plugin := func(b *testing.B) {
		cpuStart = cpuTime()
		var spans, first []time.Duration
		for b.Loop() {
			var server time.Duration
			s, payload := begin(b)
			ctx, cancel := context.WithCancel(context.Background())
			ss, err := sc.Attest(ctx)
			if err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: payload}}); err != nil {
				b.Fatal(err)
			}
			msg, err := ss.Recv()
			if err != nil {
				b.Fatal(err)
			}
			server += time.Since(start)
			first = append(first, server)
			response := answer(b, s, msg.GetChallenge())
			start = time.Now()
			if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_ChallengeResponse{ChallengeResponse: response}}); err != nil {
				b.Fatal(err)
			}
			msg, err = ss.Recv()
			if err != nil || msg.GetAgentAttributes() == nil {
				b.Fatalf("attributes %v, err %v", msg, err)
			}
			server += time.Since(start)
			spans = append(spans, server)
			cancel()
			s.Close()
		}
		report(b, spans, first)
	}
	for round := 0; round < 3; round++ {
		rb, rp := testing.Benchmark(bare), testing.Benchmark(plugin)
		if rb.N == 0 || rp.N == 0 {
			t.Fatal("a benchmark failed: run with -test.v to see its b.Fatal")
		}
		sb, sp := rb.Extra["server-ns/op"], rp.Extra["server-ns/op"]
		mb, mp := rb.Extra["server-median-ns"], rp.Extra["server-median-ns"]
		cb, cp := rb.Extra["cpu-ns/op"], rp.Extra["cpu-ns/op"]
		t.Logf("round %d: payload -> challenge median: bare %.0f ns, plugin %.0f ns", round, rb.Extra["challenge-median-ns"], rp.Extra["challenge-median-ns"])
		t.Logf("round %d: server wall time: bare mean %.0f median %.0f ns, plugin mean %.0f median %.0f ns, plugin/bare mean %.3f median %.3f; process CPU per attestation: bare %.0f ns, plugin %.0f ns, plugin/bare %.3f",
			round, sb, mb, sp, mp, sp/sb, mp/mb, cb, cp, cp/cb)
	}
}

// cpuTime is this process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
