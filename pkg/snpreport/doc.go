// Package snpreport verifies AMD SEV-SNP attestation reports: the evidence a
// confidential VM's AMD secure processor signs about the VM's launch
// measurement, guest policy and firmware (TCB) versions.
//
// The package takes bytes and returns a [Result]; it never opens the guest
// device (the agent side does, through go-sev-guest's client package) and
// links no device code. Verification is github.com/google/go-sev-guest's:
//
//   - verify.SnpAttestation checks the VCEK (or VLEK) certificate against the
//     AMD ARK/ASK roots given in [Options.Roots] (AMD's roots for Milan, Genoa
//     and Turin embedded in go-sev-guest when none are given; the roots are
//     always set explicitly, never taken from the evidence) and the report's
//     ECDSA P-384 signature with it. Certificates are never fetched from
//     AMD's Key Distribution Service unless [Options.AllowKDS] is set: the
//     evidence must carry the VCEK in its certificate table.
//   - validate.SnpAttestation checks the report's internal consistency: the
//     reported TCB equals the VCEK certificate's TCB, the certificate's TCB
//     is not above the current TCB, the chip ID matches the certificate's
//     hardware ID.
//
// REPORT_DATA is checked by a caller-given function (package
// [github.com/hwattest/hwattest/pkg/reportdata] binds a nonce and a trust
// domain into it), before anything else is believed. Named policies
// ([PolicyConfig]) then judge the verified report: allowed measurements,
// debug, minimum TCB, host data, ID and author key digests, VMPL.
//
// Evidence is what go-sev-guest's QuoteProvider.GetRawQuote returns: the
// 1184-byte report followed by the certificate table of the extended report
// (at most [MaxEvidenceSize] bytes in all).
//
// This package does not check certificate revocation (AMD's CRLs need the
// network); deny a VM by its agent ID in SPIRE instead.
package snpreport
