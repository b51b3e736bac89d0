// Command nodeattestor-tdx-testagent is TEST-ONLY: the real tdx agent plugin
// (nodeattestor/tdx/agent) with its quote provider replaced by
// internal/tdxtest's guest, whose quotes are signed by a test PCK chain the
// test generated (no Intel key). It lets the integration tests run TDX
// attestation through real SPIRE without TDX hardware. It is not under
// cmd/, is never released, and a SPIRE server accepts its quotes only when
// configured with the test root (intel_root_path).
//
//	plugin_args = ["-chain", "<dir written by tdxtest.Chain.Write>", "-debug"]
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/googlelog"
	"github.com/hwattest/hwattest/internal/tdxtest"
	"github.com/hwattest/hwattest/nodeattestor/tdx/agent"
)

func main() {
	googlelog.Discard()
	chainDir := flag.String("chain", "", "directory of the test chain (tdxtest.Chain.Write)")
	debug := flag.Bool("debug", false, "launch the test TD with the DEBUG attribute")
	flag.Parse()
	chain, err := tdxtest.ReadChain(*chainDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeattestor-tdx-testagent:", err)
		os.Exit(2)
	}
	guest, err := tdxtest.NewGuest(chain)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeattestor-tdx-testagent:", err)
		os.Exit(2)
	}
	if *debug {
		guest.TDAttributes[0] |= 1
	}
	p := agent.New(agent.WithQuoteProvider(guest))
	pluginmain.Serve(nodeattestorv1.NodeAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
