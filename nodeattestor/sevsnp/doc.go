// Package sevsnp holds what the agent and server sides of the AMD SEV-SNP
// node attestor share: the plugin name, the messages of its one round trip,
// the agent ID format and the selectors made from a verified report.
//
// One attestation:
//
//	agent -> server  Hello                      (names the protocol version)
//	server -> agent  a fresh 32-byte nonce      (crypto/rand)
//	agent -> server  report || certificate table, REPORT_DATA =
//	                 reportdata.New(nonce, trust domain)
//
// The agent ID is the report ID the AMD secure processor gave the VM when it
// was launched:
//
//	spiffe://<trust domain>/spire/agent/sev_snp/<hex REPORT_ID>
//
// It is signed by the hardware, unique per VM (the host cannot choose it) and
// the same in every report of one launch, so re-attestation keeps the ID. A
// relaunched VM (stopped and started again) is a new agent. The chip ID is
// per host, not per VM, and the measurement, host data and ID block are per
// image or per deployment: none of them can tell two VMs apart.
package sevsnp
