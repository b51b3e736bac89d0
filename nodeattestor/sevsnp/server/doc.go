// Package server is the server side of the SEV-SNP node attestor: it sends
// a fresh nonce, verifies the agent's report with pkg/snpreport against the
// configured AMD roots, evaluates the named policies and names the agent by
// the report ID.
package server
