// Command nodeattestor-tdx-agent is the agent-side Intel TDX node attestor
// plugin for SPIRE (plugin name "tdx"). It reads quotes through configfs-tsm.
// See docs/nodeattestor-tdx.md and package
// github.com/hwattest/hwattest/nodeattestor/tdx/agent.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/nodeattestor/tdx/agent"
)

func main() {
	p := agent.New()
	pluginmain.Serve(nodeattestorv1.NodeAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
