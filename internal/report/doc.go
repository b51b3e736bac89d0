// Package report builds hwattest's compliance report from a SPIRE server:
// which node satisfies which policy level (its tpm:policy:<name> selectors)
// and which workloads run under which node-level requirement. It reads
// agents and registration entries through a narrow Source over two calls of
// the SPIRE server API (ListAgents and ListEntries), and renders the report
// as a terminal table, JSON (schema version SchemaVersion, documented in
// docs/cli.md), CSV and one self-contained HTML page.
//
// The report shows what the server recorded at each agent's last
// attestation; it does not attest anything itself.
package report
