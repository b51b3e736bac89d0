// Package tdxtest is TEST-ONLY. It is an Intel TDX trust domain without
// hardware: a quote generator whose keys are made by the test, not by Intel.
//
// A [Chain] is a test root CA ("Intel SGX Root CA" by name only), a test
// PCK Platform CA and a PCK leaf carrying the SGX extensions (PPID, TCB with
// its sixteen CPU SVN components, PCE SVN and CPU SVN, PCE-ID, FMSPC, SGX
// type) that go-tdx-guest's pcs and verify packages require. A [Guest]
// answers GetRawQuote (the tdx agent plugin's QuoteProvider) with a version
// 4 TD quote over the REPORT_DATA the caller gives: the header and TD body
// signed by the guest's attestation key, and a quoting enclave report whose
// REPORT_DATA is SHA-256(attestation key || QE auth data), signed by the
// PCK key, with the PCK chain appended, as a TD's quoting enclave does.
//
// It proves what go-tdx-guest's offline verification proves: the chain to
// a configured root, the QE report signature and its binding of the
// attestation key, the quote signature, and through the plugins the nonce,
// trust domain and agent key in REPORT_DATA and the policies. It proves
// nothing about real Intel TCB levels or collateral (TCB info, QE identity,
// CRLs): none is generated, and a server with get_collateral on refuses
// these quotes. A server accepts them only when a test configures the test
// root (intel_root_path); the Intel root embedded in pkg/tdxquote never
// verifies them.
//
// No product binary links it (nodeattestor/tdx TestProductBinariesLinkNoTestHelpers);
// only _test.go files and the test-only agent under test/integration do.
package tdxtest
