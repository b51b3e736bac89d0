package integration_test

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// Scenario 1: the agent attests with its TPM through real SPIRE; the agent ID
// and selectors are what the docs say; a registered workload gets an
// X509-SVID and a JWT-SVID through the workload API.
func TestAgentAttests(t *testing.T) {
	n := newNode(t, swtpmtest.Options{})
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig() + `
expose_pcrs = { sha256 = [7] }
policy "genuine" {
  ek_certificate = true
}
policy "secureboot" {
  secure_boot = true
}`})
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig()})

	info, err := server.Agent(t.Context(), n.agentID())
	if err != nil {
		t.Fatalf("agent show %s: %v (agents: %+v)", n.agentID(), err, server.Agents(t))
	}
	if info.AttestationType != "tpm" || !info.CanReattest || info.Banned {
		t.Errorf("agent %+v", info)
	}
	hasAll(t, "agent selectors", info.Selectors,
		"tpm:pub_hash:"+n.ekHash,
		"tpm:ek_issuer:CN=swtpm-localca",
		"tpm:manufacturer:id:00001014",
		"tpm:secureboot:enabled",
		fmt.Sprintf("tpm:pcr:sha256:7:%x", n.pcr(t, 7)),
		"tpm:policy:genuine",
		"tpm:policy:secureboot",
	)

	workload := "spiffe://" + harness.TrustDomain + "/workload"
	server.CreateEntry(t, n.agentID(), workload, fmt.Sprintf("unix:uid:%d", os.Getuid()))
	x, jwt := fetchSVIDs(t, agent, workload)
	t.Logf("agent ID %s\nworkload X509-SVID expires %s\n%sJWT-SVID expires %s", n.agentID(),
		x.Certificates[0].NotAfter.Format(time.RFC3339), pemOf(x.Certificates[0]), jwt.Expiry.Format(time.RFC3339))
}

// Scenario 2: an EK certificate from a CA the server does not trust is
// refused, with the reason in the server log.
func TestUntrustedEKCARefused(t *testing.T) {
	n := newNode(t, swtpmtest.Options{})
	other := swtpmtest.Start(t, swtpmtest.Options{}) // another local CA
	server := harness.StartServer(t, harness.ServerConfig{
		NodeAttestor: fmt.Sprintf("ek_ca_paths = [%q, %q]", other.RootCAPath, other.IssuerCAPath)})
	agent := harness.StartAgentNoWait(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig()})
	server.WaitLog(t, "x509: certificate signed by unknown authority", 60*time.Second)
	server.WaitLog(t, `reason=ek_untrusted`, 5*time.Second)
	if len(server.Agents(t)) != 0 {
		t.Errorf("an agent was attested: %+v", server.Agents(t))
	}
	agent.WaitLog(t, "PermissionDenied", 30*time.Second)
}

// Scenario 3: EK hash allowlist mode with a TPM that has no EK certificate:
// accepted when listed, refused when not.
func TestEKHashAllowlist(t *testing.T) {
	n := newNode(t, swtpmtest.Options{NoEKCert: true})
	dir := harness.Dir(t)
	list := harness.WriteFile(t, dir, "allowed", "# enrolled TPMs\n"+strings.Repeat("0", 64)+"\n")
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: fmt.Sprintf("require = \"hash\"\nek_hash_paths = [%q]", list)})

	refused := harness.StartAgentNoWait(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig()})
	server.WaitLog(t, "EK "+n.ekHash+" is not on the allowlist", 60*time.Second)
	refused.Stop()

	harness.WriteFile(t, dir, "allowed", "# enrolled TPMs\n"+n.ekHash+"\n")
	harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig()})
	info, err := server.Agent(t.Context(), n.agentID())
	if err != nil {
		t.Fatal(err)
	}
	hasAll(t, "agent selectors", info.Selectors, "tpm:pub_hash:"+n.ekHash)
}
