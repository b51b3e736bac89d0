// Package capture takes an evidence file (package evidence) from a TPM,
// playing both parts of an attestation on one machine: the attester
// (pkg/tpmquote/attester) and the verifier (pkg/tpmquote), with a nonce and
// a credential of its own. The capture-time verification proves to the
// capturing machine that the AK is in the EK's TPM and that the logs replay
// to the quoted PCRs; the file records that it did, not a proof of it.
//
// It needs a TPM and links device code; package evidence, which decodes and
// verifies the files, does not.
package capture
