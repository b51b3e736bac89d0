package integration_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/snptest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestSEVSNPNodeAttestation runs the sev_snp plugins in real SPIRE: the
// product server plugin (cmd/nodeattestor-sevsnp-server) trusting a test AMD
// chain, and the real agent plugin inside a test-only binary whose report
// provider signs with go-sev-guest's test keys (no AMD hardware here).
//
//	flock /work/heavy.lock go test -count=1 -run TestSEVSNPNodeAttestation -v ./test/integration/
func TestSEVSNPNodeAttestation(t *testing.T) {
	chainDir := harness.Dir(t)
	chain, err := snptest.NewChain(time.Now().Add(-time.Hour), snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.Write(chainDir); err != nil {
		t.Fatal(err)
	}
	measurement := hex.EncodeToString(snptest.NewGuest(chain, 1).Measurement[:])
	testAgent := harness.BuildPlugin(t, "test/integration/testplugins/nodeattestor-sevsnp-testagent")
	server := harness.StartServer(t, harness.ServerConfig{
		AgentTTL:       agentTTL,
		Attestor:       "sev_snp",
		AttestorPlugin: "nodeattestor-sevsnp-server",
		NodeAttestor: fmt.Sprintf(`      amd_cert_chains = { Milan = %q }
      policy "confidential" {
        required     = true
        measurements = [%q]
        minimum_tcb  = { snp = 8 }
      }`, chainDir+"/cert_chain.pem", measurement),
	})
	startVM := func(reportID string, extra ...string) *harness.Agent {
		return harness.StartAgentNoWait(t, harness.AgentConfig{
			Server: server, Attestor: "sev_snp", AttestorPlugin: testAgent,
			PluginArgs: append([]string{"-chain", chainDir, "-report-id", reportID}, extra...),
		})
	}

	t.Run("attests", func(t *testing.T) {
		a := startVM("07")
		a.WaitHealthy(t)
		id := "spiffe://example.org/spire/agent/sev_snp/" + strings.Repeat("07", 32)
		var got harness.AgentInfo
		for _, info := range server.Agents(t) {
			if info.ID == id {
				got = info
			}
		}
		if got.ID == "" {
			t.Fatalf("agent %s not listed: %+v", id, server.Agents(t))
		}
		for _, want := range []string{"sev_snp:measurement:" + measurement, "sev_snp:policy:confidential", "sev_snp:debug:disabled", "sev_snp:product:Milan"} {
			if !slices.Contains(got.Selectors, want) {
				t.Errorf("selector %s missing: %v", want, got.Selectors)
			}
		}
		if got.AttestationType != "sev_snp" || !got.CanReattest {
			t.Errorf("attestation type %q, can reattest %v", got.AttestationType, got.CanReattest)
		}
		server.WaitLog(t, "SEV-SNP attestation succeeded", 10*time.Second)
		// At SVID rotation the agent re-attests with a fresh report of the
		// same VM: same REPORT_ID, so SPIRE keeps the agent ID.
		a.WaitLog(t, reattested, 40*time.Second)
		if _, err := server.Agent(context.Background(), id); err != nil {
			t.Errorf("after re-attestation: %v", err)
		}
		if n := server.LogCount("SEV-SNP attestation succeeded"); n < 2 {
			t.Errorf("%d successful attestations, want the first and the re-attestation", n)
		}
	})

	t.Run("debug VM refused", func(t *testing.T) {
		a := startVM("08", "-debug")
		server.WaitLog(t, "debug is enabled in the guest policy", 60*time.Second)
		a.Stop()
		for _, info := range server.Agents(t) {
			if strings.HasSuffix(info.ID, strings.Repeat("08", 32)) {
				t.Errorf("the debug VM attested: %+v", info)
			}
		}
	})
}
