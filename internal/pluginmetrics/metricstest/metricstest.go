// Package metricstest is test-only: SPIRE's metrics host service as a fake
// that keeps what a plugin reports, for the plugins' metrics tests.
package metricstest

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Fake records counters as "key label=value ..." (the key's parts joined
// by dots, labels in the order sent) and counts samples. Serve it with
// metricsv1.MetricsServiceServer(fake) as a host service.
type Fake struct {
	metricsv1.UnimplementedMetricsServer
	mu       sync.Mutex
	counters []string
	samples  int
}

// IncrCounter implements the host service.
func (f *Fake) IncrCounter(_ context.Context, r *metricsv1.IncrCounterRequest) (*emptypb.Empty, error) {
	s := strings.Join(r.Key, ".")
	for _, l := range r.Labels {
		s += " " + l.Name + "=" + l.Value
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters = append(f.counters, s)
	return &emptypb.Empty{}, nil
}

// AddSample implements the host service.
func (f *Fake) AddSample(context.Context, *metricsv1.AddSampleRequest) (*emptypb.Empty, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.samples++
	return &emptypb.Empty{}, nil
}

// Count is how many times counter was incremented.
func (f *Fake) Count(counter string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.counters {
		if c == counter {
			n++
		}
	}
	return n
}

// Wait returns the counters, sorted, and the samples once at least
// counters counters and samples samples have arrived (plugins send them
// asynchronously, after they answered), or what arrived after 10 s.
func (f *Fake) Wait(counters, samples int) ([]string, int) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		got, n := slices.Clone(f.counters), f.samples
		f.mu.Unlock()
		if (len(got) >= counters && n >= samples) || time.Now().After(deadline) {
			slices.Sort(got)
			return got, n
		}
		time.Sleep(10 * time.Millisecond)
	}
}
