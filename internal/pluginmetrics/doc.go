// Package pluginmetrics reports a plugin's metrics through SPIRE's metrics
// host service without slowing the plugin's requests: metrics are queued
// and sent by one goroutine, and dropped (never waited for) when SPIRE is
// slow or the queue is full. SPIRE prefixes each key with its own
// (spire_agent_ or spire_server_ in Prometheus).
package pluginmetrics
