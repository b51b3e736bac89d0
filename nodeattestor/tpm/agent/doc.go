// Package agent is the agent side of the TPM node attestor: it collects TPM
// evidence with pkg/tpmquote/attester and answers the server's challenge.
package agent
