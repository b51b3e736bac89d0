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
	// metricEvents counts node events by webhook and result (delivered,
	// failed, dropped).
	metricEvents = []string{"tpm", "events"}
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
	p.incr(metricReload, "source", source, "outcome", outcome)
}

// recordEvent counts one node event's delivery outcome.
func (p *Plugin) recordEvent(webhook, result string) {
	p.incr(metricEvents, "webhook", webhook, "result", result)
}

// incr adds one to a counter with labels given as name, value pairs.
func (p *Plugin) incr(key []string, nameValues ...string) {
	p.mu.RLock()
	m := p.metrics
	p.mu.RUnlock()
	if m == nil {
		return
	}
	labels := make([]*metricsv1.Label, 0, len(nameValues)/2)
	for i := 0; i+1 < len(nameValues); i += 2 {
		labels = append(labels, &metricsv1.Label{Name: nameValues[i], Value: nameValues[i+1]})
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = m.IncrCounter(ctx, &metricsv1.IncrCounterRequest{Key: key, Val: 1, Labels: labels})
}
