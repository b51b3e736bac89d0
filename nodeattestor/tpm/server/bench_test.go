package server_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"

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
// tpmquote verifier (Challenge + Verify) in the same run. The TPM work of the
// agent side happens in both loops outside the measured spans, so each
// challenge is answered by a real quote; the figure is server-ns/op.
// The node has a real 100-event boot log (replayed into the simulator's
// PCRs) and a persisted AK, as a production agent would.
//
//	HWATTEST_BENCH=1 go test -run TestBenchmarkServerSide -v ./nodeattestor/tpm/server/
func TestBenchmarkServerSide(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to run the benchmark")
	}
	sim := tpmtest.Simulator(t)
	ca := tpmtest.NewCA(t, "bench EK CA")
	tpmtest.CertifyEKs(t, sim, ca, "id:494E5443", "PTT", "id:00020008")
	raw, err := os.ReadFile("../../../pkg/tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin")
	if err != nil {
		t.Fatal(err)
	}
	tpmtest.ReplayEventLog(t, sim, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
	addr := tpmtest.ServeSimulator(t, sim)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "eventlog.bin")
	if err := os.WriteFile(logPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := attester.Config{EventLogPath: logPath, AKPath: filepath.Join(dir, "ak.json")}
	sc, _ := servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q]", ca.WritePEM(t)), fmt.Sprintf("tpm = %q", addr))
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Roots: ca.Pool()}})
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
	report := func(b *testing.B, server time.Duration) {
		b.ReportMetric(float64(server.Nanoseconds())/float64(b.N), "server-ns/op")
	}
	bare := func(b *testing.B) {
		var server time.Duration
		for b.Loop() {
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
			s.Close()
		}
		report(b, server)
	}
	plugin := func(b *testing.B) {
		var server time.Duration
		for b.Loop() {
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
			cancel()
			s.Close()
		}
		report(b, server)
	}
	for round := 0; round < 3; round++ {
		rb, rp := testing.Benchmark(bare), testing.Benchmark(plugin)
		if rb.N == 0 || rp.N == 0 {
			t.Fatal("a benchmark failed: run with -test.v to see its b.Fatal")
		}
		sb, sp := rb.Extra["server-ns/op"], rp.Extra["server-ns/op"]
		t.Logf("round %d: server side bare %.0f ns/op, through the plugin %.0f ns/op, plugin/bare %.3f (whole loop with TPM: %d vs %d ns/op)",
			round, sb, sp, sp/sb, rb.NsPerOp(), rp.NsPerOp())
	}
}
