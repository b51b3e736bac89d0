package container_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"

	"github.com/hwattest/hwattest/internal/pluginmetrics/metricstest"
	"github.com/hwattest/hwattest/workloadattestor/container"
)

// TestMetrics: attestations are counted by outcome, container lookups by
// cache result, and runtimes that do not answer by name, through SPIRE's
// metrics host service.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	podman := e.runtime("/run/podman/podman.sock")
	fm := &metricstest.Fake{}
	client := new(workloadattestorv1.WorkloadAttestorPluginClient)
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:       workloadattestorv1.WorkloadAttestorPluginServer(e.plugin),
		PluginClient:       client,
		HostServiceServers: []pluginsdk.ServiceServer{metricsv1.MetricsServiceServer(fm)},
	})
	e.configure(t, twoRuntimes)
	e.run(t, ctrd, idA, container.Info{Image: "registry.example/app:v1"}, containerdPodCgroup(idA))
	e.proc.add(t, 100, containerdPodCgroup(idA), 1)
	e.proc.add(t, 400, hostCgroup, 1)
	e.proc.add(t, 500, podmanCgroup(idB), 1)
	podman.err = errors.New("connection refused")

	for _, pid := range []int32{100, 100, 400, 500} {
		_, _ = client.Attest(context.Background(), &workloadattestorv1.AttestRequest{Pid: pid})
	}
	got, samples := fm.Wait(7, 4)
	want := []string{
		"container.attestation outcome=container reason=",
		"container.attestation outcome=container reason=",
		"container.attestation outcome=no_container reason=",
		"container.attestation outcome=refused reason=unavailable",
		"container.cache result=hit",
		"container.cache result=miss",
		"container.runtime_error runtime=podman",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counters\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if samples != 4 {
		t.Errorf("%d duration samples, want 4", samples)
	}
}
