// Command nodeattestor-sevsnp-server is the server-side AMD SEV-SNP node
// attestor plugin for SPIRE (plugin name "sev_snp"). See
// docs/nodeattestor-sev-snp.md and package
// github.com/hwattest/hwattest/nodeattestor/sevsnp/server.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/googlelog"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp/server"
)

func main() {
	googlelog.Discard()
	p := server.New()
	pluginmain.Serve(nodeattestorv1.NodeAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
