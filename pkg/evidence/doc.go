// Package evidence is the evidence file that `hwattest evidence` writes: the
// TPM evidence of one machine (EK, AK parameters, a quote, PCR values, boot
// and IMA logs, TPM facts) captured at one moment and kept in one
// self-contained, versioned JSON file (docs/evidence.md), for deriving
// reference values and for offline checks.
//
// An evidence file is not a live attestation, and every file says so in its
// statement field: the quote's nonce was chosen by the capturing tool, not
// by a verifier, so the quote is not shown to be fresh; and credential
// activation, the proof that the AK is in the EK's TPM, was checked by the
// capturing tool at capture time and cannot be repeated offline (File.Verify
// documents what is checked). A SPIRE server never accepts one: it always
// challenges the agent with a fresh nonce and credential.
//
// Decoding and verification take bytes only; capturing needs a TPM and lives
// with the command (cmd/hwattest).
package evidence
