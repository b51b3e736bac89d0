// Command nodeattestor-tdx-server is the server-side Intel TDX node
// attestor plugin for SPIRE (plugin name "tdx"). See docs/nodeattestor-tdx.md and
// package github.com/hwattest/hwattest/nodeattestor/tdx/server.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/nodeattestor/tdx/server"
)

func main() {
	p := server.New()
	pluginmain.Serve(nodeattestorv1.NodeAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
