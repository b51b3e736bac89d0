// Command nodeattestor-tpm-agent is the agent-side TPM node attestor plugin
// for SPIRE (plugin name "tpm"). See docs/ and package
// github.com/hwattest/hwattest/nodeattestor/tpm/agent.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/nodeattestor/tpm/agent"
)

func main() {
	p := agent.New()
	pluginmain.Serve(nodeattestorv1.NodeAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
