package integration_test

import (
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// Scenario 7: high availability. Two SPIRE servers share one PostgreSQL
// datastore behind a load balancer (a TCP proxy). The agent attests against
// server A; the balancer then moves it to server B, where it re-attests with
// its TPM at the next rotation; both servers issue SVIDs for the same entry.
func TestHighAvailability(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	n := newNode(t, swtpmtest.Options{})
	cfg := harness.ServerConfig{AgentTTL: agentTTL, X509SVIDTTL: "30s", DataStore: pg.DataStore(), NodeAttestor: n.caConfig()}
	a := harness.StartServer(t, cfg)
	b := harness.StartServer(t, cfg)
	// The agent's bootstrap bundle must hold both servers' CAs.
	if err := harness.Eventually(30*time.Second, func() error {
		if got := strings.Count(a.MustCLI(t, "bundle", "show"), "BEGIN CERTIFICATE"); got < 2 {
			return fmt.Errorf("bundle has %d CAs, want 2", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	lb := harness.StartProxy(t, fmt.Sprintf("127.0.0.1:%d", a.Port))
	agent := harness.StartAgent(t, harness.AgentConfig{Server: a, ServerPort: lb.Port, NodeAttestor: n.agentConfig()})
	a.WaitLog(t, "TPM attestation succeeded", 10*time.Second)

	id := workloadEntry(t, a, n)
	issuedBy := func(want *harness.Server) {
		t.Helper()
		authority := want.AuthorityID(t)
		if err := harness.Eventually(60*time.Second, func() error {
			x, _ := fetchSVIDs(t, agent, id)
			if got := hex.EncodeToString(x.Certificates[0].AuthorityKeyId); got != authority {
				return fmt.Errorf("SVID issued by authority %s, want %s", got, authority)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	issuedBy(a)

	lb.Switch(fmt.Sprintf("127.0.0.1:%d", b.Port))
	b.WaitLog(t, "TPM attestation succeeded", 40*time.Second)
	issuedBy(b)
	if info, err := b.Agent(t.Context(), n.agentID()); err != nil || info.AttestationType != "tpm" {
		t.Fatalf("server B: agent %+v, %v", info, err)
	}
}
