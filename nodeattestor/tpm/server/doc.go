// Package server is the server side of the TPM node attestor: it verifies the
// agent's TPM evidence with pkg/tpmquote and turns the result into the agent
// ID and selectors (package tpm). Every agent SVID rotation re-runs the whole
// attestation (can_reattest), so a node whose EK is denied or whose evidence
// no longer verifies loses its identity within one agent TTL.
package server
