package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestAttestationLatency measures 20 node attestations through a real SPIRE
// server on swtpm and reports the median, and how much of it the TPM
// commands take (opening the TPM, EK and AK, activation, quote, PCR read: the
// attester's Begin and Respond); the rest is the evidence's trip through
// SPIRE (TLS, gRPC, the server plugin's verification, signing the agent
// SVID, the datastore). The test plays the agent with our attester library
// against SPIRE's AttestAgent API, as spire-agent's plugin does, so that
// each part can be timed; the agent process itself is not included. It
// reports; it asserts nothing about time.
//
//	HWATTEST_BENCH=1 go test -run TestAttestationLatency -v ./test/integration/
func TestAttestationLatency(t *testing.T) {
	if os.Getenv("HWATTEST_BENCH") != "1" {
		t.Skip("set HWATTEST_BENCH=1 to measure")
	}
	n := newNode(t, swtpmtest.Options{})
	const noRateLimit = "  ratelimit {\n    attestation = false\n  }\n"
	// SPIRE limits node attestations to one per second per caller address by
	// default; that limit would be all this measures.
	t.Run("rate limit off", func(t *testing.T) {
		measureAttestations(t, n, noRateLimit)
	})
	t.Run("SPIRE default rate limit", func(t *testing.T) {
		measureAttestations(t, n, "")
	})
	t.Run("spire-agent start to attested, rate limit off", func(t *testing.T) {
		measureAgentStarts(t, n, noRateLimit)
	})
}

// measureAgentStarts starts a real spire-agent 20 times with the tpm
// attestor (its key is in memory, so each start attests anew) and 20 times
// with SPIRE's join_token attestor, the baseline, alternately so that the
// machine's noise falls on both alike. Each is timed from the process start
// to its "Node attestation was successful" log line (polled every 2 ms):
// agent start-up and plugin loading included.
func measureAgentStarts(t *testing.T, n *node, serverExtra string) {
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig(), ServerExtra: serverExtra,
		ExtraPlugins: "  NodeAttestor \"join_token\" {\n    plugin_data {}\n  }\n"})
	const runs = 20
	var tpmRuns, tokenRuns []time.Duration
	dir := harness.Dir(t)
	for i := 0; i < runs; i++ {
		out := server.MustCLI(t, "token", "generate", "-spiffeID", fmt.Sprintf("spiffe://%s/baseline/%d", harness.TrustDomain, i))
		token := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(out), "Token:"))
		tokenRuns = append(tokenRuns, timeAgentStart(t, harness.AgentConfig{Server: server, JoinToken: token, Dir: filepath.Join(dir, fmt.Sprint("token", i))}))
		tpmRuns = append(tpmRuns, timeAgentStart(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig(), Dir: filepath.Join(dir, fmt.Sprint("tpm", i))}))
	}
	slices.Sort(tpmRuns)
	slices.Sort(tokenRuns)
	ms := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	t.Logf("spire-agent from start to attested, %d runs each: tpm median %v (min %v, max %v); join_token baseline median %v (min %v, max %v); tpm/join_token %.2f, +%v",
		runs, ms(tpmRuns[runs/2]), ms(tpmRuns[0]), ms(tpmRuns[runs-1]), ms(tokenRuns[runs/2]), ms(tokenRuns[0]), ms(tokenRuns[runs-1]),
		float64(tpmRuns[runs/2])/float64(tokenRuns[runs/2]), ms(tpmRuns[runs/2]-tokenRuns[runs/2]))
}

// timeAgentStart starts an agent, waits for its attestation and stops it.
func timeAgentStart(t *testing.T, cfg harness.AgentConfig) time.Duration {
	start := time.Now()
	a := harness.StartAgentNoWait(t, cfg)
	defer a.Stop()
	for !strings.Contains(a.LogText(), "Node attestation was successful") {
		if exited, err := a.Exited(); exited {
			t.Fatalf("spire-agent exited: %v", err)
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("spire-agent did not attest within 30 s")
		}
		time.Sleep(2 * time.Millisecond)
	}
	return time.Since(start)
}

func measureAttestations(t *testing.T, n *node, serverExtra string) {
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig(), ServerExtra: serverExtra})
	dir := harness.Dir(t)
	client := agentAPI(t, server, dir)
	cfg := attester.Config{EventLogPath: n.logPath, AKPath: filepath.Join(dir, "ak.json")}

	const runs = 20
	var total, tpmTime []time.Duration
	for i := 0; i < runs+1; i++ { // the first run creates the persisted AK: not counted
		var inTPM time.Duration
		start := time.Now()
		n.withTPM(t, func(tpm transport.TPM) {
			begin := time.Now()
			s, att, err := attester.Begin(tpm, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			inTPM += time.Since(begin)
			payload, err := att.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			_, err = attestAgent(t, client, payload, func(challenge []byte) []byte {
				ch, err := tpmquote.DecodeChallenge(challenge)
				if err != nil {
					t.Fatal(err)
				}
				respond := time.Now()
				r, err := s.Respond(ch)
				inTPM += time.Since(respond)
				if err != nil {
					t.Fatal(err)
				}
				b, err := r.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				return b
			})
			if err != nil {
				t.Fatal(err)
			}
		})
		if i > 0 {
			total = append(total, time.Since(start))
			tpmTime = append(tpmTime, inTPM)
		}
	}
	med := func(d []time.Duration) time.Duration { s := slices.Clone(d); slices.Sort(s); return s[len(s)/2] }
	mt, mp := med(total), med(tpmTime)
	t.Logf("node attestation through SPIRE on swtpm, %d runs: median %v (min %v, max %v); TPM commands median %v (%.0f%%); the rest (SPIRE + our verification + TLS/gRPC) %v",
		runs, mt.Round(100*time.Microsecond), slices.Min(total).Round(100*time.Microsecond), slices.Max(total).Round(100*time.Microsecond),
		mp.Round(100*time.Microsecond), 100*float64(mp)/float64(mt), (mt - mp).Round(100*time.Microsecond))
}
