// Package tpm holds what the agent and server sides of the TPM node attestor
// share: the plugin name, the agent ID format and the selectors made from a
// verified attestation. The evidence itself is pkg/tpmquote's wire format.
//
// Agent IDs and the pub_hash selector are those of spiffe/spire-tpm-plugin,
// so operators can switch plugins without re-registering anything:
//
//	spiffe://<trust domain>/spire/agent/tpm/<hex sha256 of the PKIX DER EK public key>
package tpm
