// Command nodeattestor-sevsnp-testagent is TEST-ONLY: the real sev_snp agent
// plugin (nodeattestor/sevsnp/agent) with its report provider replaced by
// internal/snptest's guest, whose reports are signed with go-sev-guest's
// public test keys. It lets the integration tests run SEV-SNP attestation
// through real SPIRE without AMD hardware. It is not under cmd/, is never
// released, and a SPIRE server accepts its reports only when configured with
// the test chain (amd_cert_chains).
//
//	plugin_args = ["-chain", "<dir written by snptest.Chain.Write>", "-report-id", "07"]
package main

import (
	"encoding/hex"
	"flag"
	"fmt"
	"os"

	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/googlelog"
	"github.com/hwattest/hwattest/internal/snptest"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp/agent"
)

func main() {
	googlelog.Discard()
	chainDir := flag.String("chain", "", "directory of the test chain (snptest.Chain.Write)")
	reportID := flag.String("report-id", "01", "hex byte repeated into the VM's report ID")
	debug := flag.Bool("debug", false, "launch the test VM with debug allowed in its guest policy")
	flag.Parse()
	chain, err := snptest.ReadChain(*chainDir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "nodeattestor-sevsnp-testagent:", err)
		os.Exit(2)
	}
	id, err := hex.DecodeString(*reportID)
	if err != nil || len(id) != 1 {
		fmt.Fprintln(os.Stderr, "nodeattestor-sevsnp-testagent: -report-id wants one hex byte")
		os.Exit(2)
	}
	guest := snptest.NewGuest(chain, id[0])
	guest.Policy.Debug = *debug
	p := agent.New(agent.WithReportProvider(guest))
	pluginmain.Serve(nodeattestorv1.NodeAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
