package exe

import (
	"strings"
	"time"

	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"google.golang.org/grpc/status"
)

// Metric keys; SPIRE prefixes them (spire_agent_exe_... in Prometheus).
// docs/workloadattestor-exe.md lists them.
var (
	// metricAttestations counts Attest calls by outcome ("measured" or
	// "refused") and reason (the gRPC code in lower case, "" unless
	// refused).
	metricAttestations = []string{"exe", "attestation"}
	// metricDuration samples Attest's duration in ms, by outcome.
	metricDuration = []string{"exe", "attestation", "duration"}
	// metricCache counts hashes by result: "hit" (from the hash cache) or
	// "miss" (the executable was read and hashed).
	metricCache = []string{"exe", "cache"}
)

var _ pluginsdk.NeedsHostServices = (*Plugin)(nil)

// BrokerHostServices implements pluginsdk.NeedsHostServices: it takes SPIRE's
// metrics service when the agent offers it.
func (p *Plugin) BrokerHostServices(broker pluginsdk.ServiceBroker) error {
	return p.metrics.Broker(broker)
}

// observe records one Attest call that began at start.
func (p *Plugin) observe(start time.Time, err error) {
	outcome, reason := "measured", ""
	if err != nil {
		outcome, reason = "refused", strings.ToLower(status.Code(err).String())
	}
	p.metrics.Incr(metricAttestations, "outcome", outcome, "reason", reason)
	p.metrics.Sample(metricDuration, time.Since(start), "outcome", outcome)
}
