// Command workloadattestor-container is the SPIRE agent workload attestor
// plugin that identifies a workload's container image through the container
// runtime's API (plugin name "container"). See
// docs/workloadattestor-container.md and package
// github.com/hwattest/hwattest/workloadattestor/container.
package main

import (
	"github.com/spiffe/spire-plugin-sdk/pluginmain"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/workloadattestor/container"
)

func main() {
	p := container.New()
	pluginmain.Serve(workloadattestorv1.WorkloadAttestorPluginServer(p), configv1.ConfigServiceServer(p))
}
