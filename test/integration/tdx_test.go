package integration_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/tdxtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestTDXNodeAttestation runs the tdx plugins in real SPIRE: the product
// server plugin (cmd/nodeattestor-tdx-server, nonces from crypto/rand)
// trusting a test PCK root through intel_root_path, and the real agent
// plugin inside a test-only binary whose quotes come from internal/tdxtest
// (no TDX hardware here).
//
//	flock /work/heavy.lock nice -n 10 go test -count=1 -run TestTDX -v ./test/integration/
func TestTDXNodeAttestation(t *testing.T) {
	chainDir := harness.Dir(t)
	chain, err := tdxtest.NewChain(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := chain.Write(chainDir); err != nil {
		t.Fatal(err)
	}
	g, err := tdxtest.NewGuest(chain)
	if err != nil {
		t.Fatal(err)
	}
	mrtd := hex.EncodeToString(g.MRTD[:])
	testAgent := harness.BuildPlugin(t, "test/integration/testplugins/nodeattestor-tdx-testagent")
	server := harness.StartServer(t, harness.ServerConfig{
		AgentTTL:       agentTTL,
		Attestor:       "tdx",
		AttestorPlugin: "nodeattestor-tdx-server",
		NodeAttestor: fmt.Sprintf(`      intel_root_path = %q
      policy "image" {
        required = true
        mrtds    = [%q]
      }`, filepath.Join(chainDir, "root.pem"), mrtd),
	})
	startTD := func(keyPath string, extra ...string) *harness.Agent {
		return harness.StartAgentNoWait(t, harness.AgentConfig{
			Server: server, Attestor: "tdx", AttestorPlugin: testAgent,
			NodeAttestor: fmt.Sprintf("      key_path = %q", keyPath),
			PluginArgs:   append([]string{"-chain", chainDir}, extra...),
		})
	}

	t.Run("attests", func(t *testing.T) {
		a := startTD(filepath.Join(harness.Dir(t), "tdx-agent-key.pem"))
		a.WaitHealthy(t)
		var got harness.AgentInfo
		for _, info := range server.Agents(t) {
			if strings.HasPrefix(info.ID, "spiffe://example.org/spire/agent/tdx/") {
				got = info
			}
		}
		if got.ID == "" {
			t.Fatalf("no tdx agent listed: %+v", server.Agents(t))
		}
		keyHash := strings.TrimPrefix(got.ID, "spiffe://example.org/spire/agent/tdx/")
		for _, want := range []string{"tdx:mrtd:" + mrtd, "tdx:policy:image", "tdx:debug:disabled", "tdx:key_hash:" + keyHash} {
			if !slices.Contains(got.Selectors, want) {
				t.Errorf("selector %s missing: %v", want, got.Selectors)
			}
		}
		if got.AttestationType != "tdx" || !got.CanReattest {
			t.Errorf("attestation type %q, can reattest %v", got.AttestationType, got.CanReattest)
		}
		server.WaitLog(t, "TDX attestation succeeded", 10*time.Second)
		// At SVID rotation the agent re-attests with a fresh quote over a
		// fresh nonce and the same agent key: SPIRE keeps the agent ID.
		a.WaitLog(t, reattested, 40*time.Second)
		if _, err := server.Agent(context.Background(), got.ID); err != nil {
			t.Errorf("after re-attestation: %v", err)
		}
		if n := server.LogCount("TDX attestation succeeded"); n < 2 {
			t.Errorf("%d successful attestations, want the first and the re-attestation", n)
		}
	})

	t.Run("debug TD refused", func(t *testing.T) {
		a := startTD(filepath.Join(harness.Dir(t), "tdx-debug-key.pem"), "-debug")
		server.WaitLog(t, "the TD has the DEBUG attribute", 60*time.Second)
		a.Stop()
		if n := len(server.Agents(t)); n != 1 {
			t.Errorf("%d agents listed, want only the first TD: %+v", n, server.Agents(t))
		}
	})
}
