// Package swtpmtest gives a test, an integration harness or a demo its own
// software TPM (swtpm) with a real endorsement key certificate chain.
//
// New manufactures a fresh TPM 2.0 state with swtpm_setup and swtpm_localca,
// then starts `swtpm socket` as a child process. Everything lives under the
// TPM's own directory: the local CA (root CA, intermediate, signing key), the
// TPM state, the configuration files and the logs. Nothing is read from or
// written to /var/lib/swtpm-localca or the user's home directory.
//
// The resulting TPM has
//
//   - an RSA 2048 EK at persistent handle 0x81010001 with its certificate in
//     NV index 0x01c00002,
//   - an ECC NIST P-384 EK at 0x81010016 with its certificate in NV index
//     0x01c00016,
//   - a platform certificate in NV index 0x01c08000,
//
// with the chain RootCAPath -> IssuerCAPath -> EK certificate. The EK
// certificates carry a critical subject alternative name that holds only a
// directoryName (TCG manufacturer, model and version), as real vendor EK
// certificates do; crypto/x509 reports it as an unhandled critical extension,
// so a verifier must handle that extension explicitly.
//
// # Channels
//
// swtpm serves one connection at a time on its command channel: a second
// client blocks until the first one closes. It has no resource manager, so
// transient objects outlive connections; flush every transient handle.
//
// Over TCP (the default) Addr is "swtpm://127.0.0.1:PORT". PORT accepts raw
// TPM 2.0 commands (and also commands wrapped in the simulator's
// TPM_SEND_COMMAND framing); the control channel listens on PORT+1, which is
// what the tpm2-tss "swtpm" TCTI expects. With Options.Unix, Addr is
// "swtpm+unix://DIR/swtpm.sock", which accepts raw TPM 2.0 commands, and the
// control channel is DIR/swtpm.sock.ctrl, again the layout the "swtpm" TCTI
// expects. TCTI returns the matching TPM2TOOLS_TCTI value for tpm2-tools.
//
// The control channel's listening socket is created by this package and
// handed to swtpm, so it stays reserved across Restart.
//
// # Requirements
//
// swtpm, swtpm_setup, swtpm_localca and swtpm_ioctl must be on PATH
// (`apt-get install -y swtpm swtpm-tools`). Start skips the test when they
// are missing, except when the environment variable CI is "true": then the
// test fails, so that a CI machine without swtpm never passes by skipping.
package swtpmtest
