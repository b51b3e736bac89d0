package exe_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"

	"github.com/hwattest/hwattest/internal/pluginmetrics/metricstest"
	"github.com/hwattest/hwattest/workloadattestor/exe"
)

// TestMetrics: attestations are counted by outcome and hashes by cache
// result, through SPIRE's metrics host service.
func TestMetrics(t *testing.T) {
	p := exe.New()
	fm := &metricstest.Fake{}
	client, cfg := new(workloadattestorv1.WorkloadAttestorPluginClient), new(configv1.ConfigServiceClient)
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:       workloadattestorv1.WorkloadAttestorPluginServer(p),
		PluginClient:       client,
		ServiceServers:     []pluginsdk.ServiceServer{configv1.ConfigServiceServer(p)},
		ServiceClients:     []pluginsdk.ServiceClient{cfg},
		HostServiceServers: []pluginsdk.ServiceServer{metricsv1.MetricsServiceServer(fm)},
	})
	if _, err := cfg.Configure(context.Background(), &configv1.ConfigureRequest{}); err != nil {
		t.Fatal(err)
	}
	for _, pid := range []int32{int32(os.Getpid()), int32(os.Getpid()), 1 << 30} {
		_, _ = client.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: pid})
	}
	got, _ := fm.Wait(5, 3)
	want := []string{
		"exe.attestation outcome=measured reason=",
		"exe.attestation outcome=measured reason=",
		"exe.attestation outcome=refused reason=notfound",
		"exe.cache result=hit",
		"exe.cache result=miss",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counters\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
