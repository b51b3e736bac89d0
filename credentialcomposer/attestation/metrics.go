package attestation

import (
	"context"
	"time"

	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
)

// Metric keys (SPIRE prefixes them with its own).
var (
	metricCompositions = []string{"attestation_composer", "composition"}
	metricDuration     = []string{"attestation_composer", "composition", "duration"}
	metricCacheSize    = []string{"attestation_composer", "cache", "size"}
)

// count counts one composition (kind x509, agent, jwt, or refresh) by
// outcome and samples its duration. Metrics are best effort: a failing host
// service is ignored.
func (p *Plugin) count(kind, outcome string, d time.Duration) {
	p.mu.RLock()
	m := p.metrics
	p.mu.RUnlock()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	labels := []*metricsv1.Label{{Name: "kind", Value: kind}, {Name: "outcome", Value: outcome}}
	_, _ = m.IncrCounter(ctx, &metricsv1.IncrCounterRequest{Key: metricCompositions, Val: 1, Labels: labels})
	if d > 0 {
		_, _ = m.AddSample(ctx, &metricsv1.AddSampleRequest{Key: metricDuration, Val: float32(d.Seconds() * 1000), Labels: labels})
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
