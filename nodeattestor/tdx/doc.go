// Package tdx holds what the agent and server sides of the Intel TDX node
// attestor share: the plugin name, the messages of its one round trip, the
// proof of possession, the agent ID and the selectors.
//
// A TDX quote names no single TD (MRTD and RTMRs are per image, MRCONFIGID
// and MROWNER are whatever the host sets, the PCK certificate is per
// platform), so the agent brings its own identity: an ECDSA P-256 key made
// in the TD. One attestation:
//
//	agent -> server  Hello{key: PKIX DER of the agent key}
//	server -> agent  a fresh 32-byte nonce (crypto/rand)
//	agent -> server  Response{quote, signature}: the TD quote with
//	                 REPORT_DATA = reportdata.NewWithKey(nonce, trust domain, key),
//	                 and the key's signature over ProofMessage(nonce, trust domain)
//
// The quote binds the key to a genuine TD of the measured image; the
// signature shows the agent holds the key. The agent ID is
//
//	spiffe://<trust domain>/spire/agent/tdx/<hex SHA-256 of the key's PKIX DER>
//
// stable while the TD keeps its key (the agent's key_path) and unique per
// TD: no other TD can claim it without the private key.
package tdx
