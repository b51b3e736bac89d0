// Package report builds hwattest's compliance report from a SPIRE server:
// which node satisfies which policy level (its tpm:policy:<name> selectors)
// and which workloads run under which node-level requirement. It reads
// agents and registration entries through a narrow Source over two calls of
// the SPIRE server API (ListAgents and ListEntries), and renders the report
// as a terminal table, JSON (schema version SchemaVersion, documented in
// docs/cli.md), CSV, one self-contained HTML page, OCSF Compliance Findings
// (OCSFVersion, one per node per level, JSON Lines: ocsf.go) and an OSCAL
// assessment-results document (OSCALVersion, go-oscal types: oscal.go)
// whose findings target the controls of the levels catalog
// (examples/oscal, embedded: catalog.go).
//
// The report shows what the server recorded at each agent's last
// attestation; it does not attest anything itself.
package report
