package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// TestPolicyFileReload: a policy file under policy_paths is edited while
// the real SPIRE server runs, with no signal (SPIRE's SIGUSR1 would not
// reconfigure the plugin: its plugin_data_file is unchanged). A broken edit
// is refused in the server log and the previous policy keeps judging the
// node; the next valid edit judges the next re-attestation.
func TestPolicyFileReload(t *testing.T) {
	t.Parallel()
	n := newNode(t, swtpmtest.Options{})
	policies := filepath.Join(t.TempDir(), "policies")
	if err := os.Mkdir(policies, 0o700); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(policies, "pinned.hcl")
	pinned := func(required bool, value string) string {
		return fmt.Sprintf("policy \"pinned\" {\n  required = %v\n  pcrs     = [\"sha256:7:%s\"]\n}\n", required, value)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(pinned(false, fmt.Sprintf("%x", n.pcr(t, 7))))
	server := harness.StartServer(t, harness.ServerConfig{AgentTTL: agentTTL, DataFile: true,
		NodeAttestor: n.caConfig() + fmt.Sprintf("\npolicy_paths = [%q]", policies)})
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfigLog("-")})
	server.WaitLog(t, `policies="[pinned]"`, time.Second) // Configure's line: what it loaded
	hasSelector := func(want bool) {
		t.Helper()
		info, err := server.Agent(t.Context(), n.agentID())
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(info.Selectors, "tpm:policy:pinned"); got != want {
			t.Fatalf("selector tpm:policy:pinned: %v, want %v (selectors %q)", got, want, info.Selectors)
		}
	}
	hasSelector(true)

	// A broken edit: refused with a logged error; the node is still judged
	// by the previous version (it keeps passing, so keeps the selector).
	write(strings.Replace(pinned(true, strings.Repeat("0", 64)), "pcrs", "pcr", 1))
	before := agent.LogCount(reattested)
	agent.WaitLogCount(t, reattested, before+1, 40*time.Second)
	server.WaitLog(t, `Policy files not reloaded; the previous policies stay`, time.Second)
	server.WaitLog(t, `policy.pinned.pcr`, time.Second) // the unknown key, named
	hasSelector(true)

	// A valid edit: required, with a value the node does not have. The
	// next re-attestation is refused by it.
	write(pinned(true, strings.Repeat("0", 64)))
	before = agent.LogCount(reattestFailed)
	agent.WaitLogCount(t, reattestFailed, before+1, 40*time.Second)
	server.WaitLog(t, `msg="Policy files reloaded" external=true plugin_name=tpm plugin_type=NodeAttestor policies="[pinned (required)]"`, time.Second)
	server.WaitLog(t, `sha256 PCR 7 is `, time.Second)
	server.WaitLog(t, `reason=policy`, time.Second)
	if strings.Contains(server.LogText(), "Plugin reconfigured") {
		t.Error("the plugin was reconfigured: the test meant to show a reload without it")
	}
}
