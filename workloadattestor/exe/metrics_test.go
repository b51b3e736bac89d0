package exe_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	workloadattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/workloadattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/hwattest/hwattest/workloadattestor/exe"
)

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

// TestMetrics: attestations are counted by outcome and hashes by cache
// result, through SPIRE's metrics host service.
func TestMetrics(t *testing.T) {
	p := exe.New()
	fm := &fakeMetrics{}
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
	var got []string
	deadline := time.Now().Add(10 * time.Second)
	for {
		fm.mu.Lock()
		got = append([]string(nil), fm.counters...)
		done := len(got) >= 5 && fm.samples >= 3
		fm.mu.Unlock()
		if done || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	sort.Strings(got)
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
