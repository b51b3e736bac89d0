package attestation

import (
	"context"
	"sort"
	"sync"
	"time"

	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
)

// Metric keys (SPIRE prefixes them with its own).
var (
	metricCompositions = []string{"attestation_composer", "composition"}
	metricDuration     = []string{"attestation_composer", "composition", "duration"}
	metricCacheSize    = []string{"attestation_composer", "cache", "size"}
)

// flushInterval is how often counts go to SPIRE's metrics service. Each
// call to that host service is a gRPC round trip back into SPIRE; making
// two per SVID doubled the composer's cost, so counts are summed here and
// sent once a second.
const flushInterval = time.Second

type metricKey struct{ kind, outcome string }

type metricSum struct {
	n     int
	total time.Duration
}

// tally sums compositions between flushes.
type tally struct {
	mu   sync.Mutex
	sums map[metricKey]metricSum
}

// count counts one composition (kind x509, agent, jwt, or refresh) by
// outcome, with its duration.
func (p *Plugin) count(kind, outcome string, d time.Duration) {
	p.tally.mu.Lock()
	defer p.tally.mu.Unlock()
	if p.tally.sums == nil {
		p.tally.sums = map[metricKey]metricSum{}
	}
	s := p.tally.sums[metricKey{kind, outcome}]
	s.n++
	s.total += d
	p.tally.sums[metricKey{kind, outcome}] = s
}

// flush sends the counts since the last flush: the counter by the number
// of compositions, and one duration sample per kind and outcome, their
// mean. Metrics are best effort: a failing host service is ignored.
func (p *Plugin) flush() {
	p.mu.RLock()
	m := p.metrics
	p.mu.RUnlock()
	p.tally.mu.Lock()
	sums := p.tally.sums
	p.tally.sums = nil
	p.tally.mu.Unlock()
	if m == nil || len(sums) == 0 {
		return
	}
	keys := make([]metricKey, 0, len(sums))
	for k := range sums {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].kind < keys[j].kind || keys[i].kind == keys[j].kind && keys[i].outcome < keys[j].outcome
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for _, k := range keys {
		s := sums[k]
		labels := []*metricsv1.Label{{Name: "kind", Value: k.kind}, {Name: "outcome", Value: k.outcome}}
		_, _ = m.IncrCounter(ctx, &metricsv1.IncrCounterRequest{Key: metricCompositions, Val: float32(s.n), Labels: labels})
		if s.total > 0 {
			mean := s.total / time.Duration(s.n)
			_, _ = m.AddSample(ctx, &metricsv1.AddSampleRequest{Key: metricDuration, Val: float32(mean.Seconds() * 1000), Labels: labels})
		}
	}
}

// flushLoop flushes every flushInterval until ctx ends, and once more then.
func (p *Plugin) flushLoop(ctx context.Context) {
	t := time.NewTicker(flushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.flush()
			return
		case <-t.C:
			p.flush()
		}
	}
}

func (p *Plugin) gauge(size float32) {
	p.mu.RLock()
	m := p.metrics
	p.mu.RUnlock()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = m.SetGauge(ctx, &metricsv1.SetGaugeRequest{Key: metricCacheSize, Val: size})
}
