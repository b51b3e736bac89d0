package container_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/hwattest/hwattest/workloadattestor/container"
)

// fakeMetrics records counters as "key label=value ..." and counts
// samples, as SPIRE's metrics host service receives them.
type fakeMetrics struct {
	metricsv1.UnimplementedMetricsServer
	mu       sync.Mutex
	counters []string
	samples  int
}

func (f *fakeMetrics) IncrCounter(_ context.Context, r *metricsv1.IncrCounterRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := strings.Join(r.Key, ".")
	for _, l := range r.Labels {
		s += " " + l.Name + "=" + l.Value
	}
	f.counters = append(f.counters, s)
	return &emptypb.Empty{}, nil
}

func (f *fakeMetrics) AddSample(context.Context, *metricsv1.AddSampleRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.samples++
	return &emptypb.Empty{}, nil
}

// wait returns the counters, sorted, once n counters and samples samples
// have arrived (they are sent asynchronously) or after 10 s.
func (f *fakeMetrics) wait(n, samples int) []string {
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		got := append([]string(nil), f.counters...)
		done := len(got) >= n && f.samples >= samples
		f.mu.Unlock()
		if done || time.Now().After(deadline) {
			sort.Strings(got)
			return got
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestMetrics: attestations are counted by outcome, container lookups by
// cache result, and runtimes that do not answer by name, through SPIRE's
// metrics host service.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	ctrd := e.runtime("/run/containerd/containerd.sock")
	podman := e.runtime("/run/podman/podman.sock")
	fm := &fakeMetrics{}
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
	got := fm.wait(7, 4)
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
	fm.mu.Lock()
	defer fm.mu.Unlock()
	if fm.samples != 4 {
		t.Errorf("%d duration samples, want 4", fm.samples)
	}
}
