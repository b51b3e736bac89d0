package container

import (
	"strings"
	"time"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"google.golang.org/grpc/status"
)

// Metric keys; SPIRE prefixes them (spire_agent_container_... in
// Prometheus). docs/workloadattestor-container.md lists them.
var (
	// metricAttestations counts Attest calls by outcome: "container"
	// (selectors returned), "no_container" (a process in no container:
	// no selectors) or "refused", with reason, the gRPC code in lower
	// case ("" unless refused).
	metricAttestations = []string{"container", "attestation"}
	// metricDuration samples Attest's duration in ms, by outcome.
	metricDuration = []string{"container", "attestation", "duration"}
	// metricCache counts container lookups by result: "hit" (answered from
	// the cache) or "miss" (a runtime was asked).
	metricCache = []string{"container", "cache"}
	// metricRuntimeErrors counts runtimes that did not answer (down,
	// socket missing, timeout), by runtime name.
	metricRuntimeErrors = []string{"container", "runtime_error"}
	// metricProvenance counts provenance checks of an image digest that
	// were not answered from the cache, by result: "satisfied" (a bundle
	// satisfied some policy), "not_satisfied" or "unavailable" (the
	// registry could not be asked in time; an alert on this one finds
	// workloads losing provenance selectors to a registry outage).
	metricProvenance = []string{"container", "provenance"}
)

var _ pluginsdk.NeedsHostServices = (*Plugin)(nil)

// BrokerHostServices implements pluginsdk.NeedsHostServices: it takes SPIRE's
// metrics service when the agent offers it.
func (p *Plugin) BrokerHostServices(broker pluginsdk.ServiceBroker) error {
	return p.metrics.Broker(broker)
}

// observe records one Attest call that began at start.
func (p *Plugin) observe(start time.Time, selectors []string, err error) {
	outcome, reason := "container", ""
	switch {
	case err != nil:
		outcome, reason = "refused", strings.ToLower(status.Code(err).String())
	case len(selectors) == 0:
		outcome = "no_container"
	}
	p.metrics.Incr(metricAttestations, "outcome", outcome, "reason", reason)
	p.metrics.Sample(metricDuration, time.Since(start), "outcome", outcome)
}

// provenanceResult is the metricProvenance label of a check.
func provenanceResult(unavailable bool, satisfied int) string {
	switch {
	case unavailable:
		return "unavailable"
	case satisfied > 0:
		return "satisfied"
	}
	return "not_satisfied"
}

// cacheResult is the metricCache label of a lookup.
func cacheResult(cached bool) string {
	if cached {
		return "hit"
	}
	return "miss"
}
