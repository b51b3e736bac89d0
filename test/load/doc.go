// Package load is a test-only load generator for the tpm node attestor: it
// plays many agents against a real SPIRE server's AttestAgent API, each
// agent the in-process reference TPM simulator re-seeded with the agent's
// number (so a distinct EK, certified by a test CA the server trusts), and
// measures attestations per second, latency, failures by gRPC code and the
// CPU time of spire-server, our plugin process, PostgreSQL and the TPM.
// SPIRE's join_token attestor runs in the same server as the baseline.
//
// Nothing here ships in the plugins. See README.md and docs/scale.md.
package load
