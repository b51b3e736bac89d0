// Package attester collects TPM 2.0 evidence on a node for package tpmquote:
// the EK and its certificate, an attestation key (AK), credential activation,
// a PCR quote over the verifier's nonce, and the boot and IMA logs.
//
// It talks to a TPM through one address string (see Open): the kernel's
// resource manager, the raw device, or swtpm over TCP or a unix socket. Every
// transient object it creates is flushed when the Session closes, since swtpm
// and the raw device have no resource manager to do it.
package attester
