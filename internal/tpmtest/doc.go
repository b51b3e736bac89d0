// Package tpmtest helps tests that need a TPM: the in-process reference TPM
// simulator (cgo; never linked into a plugin binary), a test EK CA that
// certifies a TPM's EK the way vendors do (critical TCG subject alternative
// name), and replay of real boot event logs into a TPM's PCRs so that quotes
// and logs agree.
package tpmtest
