// Command nodeattestor-sevsnp-agent is the agent-side AMD SEV-SNP node
// attestor plugin for SPIRE (plugin name "sev_snp"). It reads reports from
// the guest's configfs-tsm interface or /dev/sev-guest. See
// docs/nodeattestor-sev-snp.md and package
// github.com/hwattest/hwattest/nodeattestor/sevsnp/agent.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/googlelog"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp/agent"
)

func main() {
	googlelog.Discard()
	p := agent.New()
	pluginmain.Serve(nodeattestorv1.NodeAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
