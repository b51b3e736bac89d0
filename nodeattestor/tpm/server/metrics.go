package server

import (
	"context"
	"time"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
)

// Metric keys (SPIRE prefixes them with its own).
var (
	metricAttestations = []string{"tpm", "attestation"}
	metricDuration     = []string{"tpm", "attestation", "duration"}
	// metricReload counts reloads of configuration files by source
	// (ek_hash_paths, ek_ca_paths, policy_paths) and outcome (reloaded,
	// failed: the new version was refused and the previous one stays).
	metricReload = []string{"tpm", "reload"}
)

var _ pluginsdk.NeedsHostServices = (*Plugin)(nil)

// BrokerHostServices implements pluginsdk.NeedsHostServices: it takes SPIRE's
// metrics service when the host offers it.
func (p *Plugin) BrokerHostServices(broker pluginsdk.ServiceBroker) error {
	var m metricsv1.MetricsServiceClient
	if broker.BrokerClient(&m) {
		p.mu.Lock()
		p.metrics = m
		p.mu.Unlock()
	}
	return nil
}

// record counts one attestation by outcome and reason and samples its
// duration. Metrics are best effort: a failing host service is ignored.
func (p *Plugin) record(outcome, reason string, d time.Duration) {
	p.mu.RLock()
	m := p.metrics
	p.mu.RUnlock()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	labels := []*metricsv1.Label{{Name: "outcome", Value: outcome}, {Name: "reason", Value: reason}}
	_, _ = m.IncrCounter(ctx, &metricsv1.IncrCounterRequest{Key: metricAttestations, Val: 1, Labels: labels})
	_, _ = m.AddSample(ctx, &metricsv1.AddSampleRequest{Key: metricDuration, Val: float32(d.Seconds() * 1000), Labels: labels[:1]})
}

// recordReload counts one reload of a configuration file source.
func (p *Plugin) recordReload(source, outcome string) {
	p.mu.RLock()
	m := p.metrics
	p.mu.RUnlock()
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	labels := []*metricsv1.Label{{Name: "source", Value: source}, {Name: "outcome", Value: outcome}}
	_, _ = m.IncrCounter(ctx, &metricsv1.IncrCounterRequest{Key: metricReload, Val: 1, Labels: labels})
}
