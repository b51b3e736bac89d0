// Package tdxquote verifies Intel TDX quotes: the evidence a trust domain's
// (TD's) quoting enclave signs about the TD's measurements (MRTD, RTMRs),
// attributes and TCB.
//
// The package takes bytes and returns a [Result]; it never opens the guest
// device (the agent side does, through go-tdx-guest's client package).
// Verification is github.com/google/go-tdx-guest's verify.TdxQuote: the PCK
// certificate chain to the Intel SGX Root CA, the quoting enclave's report
// signed by the PCK key, and the quote's signature by the attestation key
// the QE report binds. The root is always passed explicitly (Intel's root,
// embedded here from go-tdx-guest, unless [Options.Roots] says otherwise):
// go-tdx-guest would otherwise log a warning to stdout on every call.
//
// With [Options.Collateral] set, the TCB info and QE identity collateral
// (and the CRLs) are fetched through its Getter - from Intel's PCS, or from
// files an air-gapped operator keeps - and the quote's TCB status is
// checked against it; without, only the signatures and chain are checked.
//
// REPORT_DATA is checked by a caller-given function (package
// [github.com/hwattest/hwattest/pkg/reportdata] binds a nonce and a trust
// domain into it). Each input has a size limit ([MaxQuoteSize]).
package tdxquote
