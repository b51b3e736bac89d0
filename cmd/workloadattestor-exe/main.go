// Command workloadattestor-exe is the SPIRE agent workload attestor plugin
// that measures a workload's executable (plugin name "exe"). See
// docs/workloadattestor-exe.md and package
// github.com/hwattest/hwattest/workloadattestor/exe.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/workloadattestor/exe"
)

func main() {
	p := exe.New()
	pluginmain.Serve(workloadattestorv1.WorkloadAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
