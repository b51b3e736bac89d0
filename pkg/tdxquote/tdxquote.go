package tdxquote

import (
	"context"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/verify"
	"github.com/google/go-tdx-guest/verify/trust"

	"github.com/hwattest/hwattest/pkg/refusal"
)

// MaxQuoteSize bounds a quote: a v4 quote with its PCK certificate chain is
// about 5 KiB.
const MaxQuoteSize = 32 << 10

// intelRootPEM is the Intel SGX Root CA, as go-tdx-guest embeds it
// (verify/trusted_root.pem; SHA-256 fingerprint
// 44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3).
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

// IntelRoot returns the Intel SGX Root CA certificate.
func IntelRoot() *x509.Certificate {
	block, _ := pem.Decode(intelRootPEM)
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		panic("tdxquote: embedded Intel root: " + err.Error())
	}
	return c
}

// Reason classifies a refusal (metric label; ReasonMalformed is
// InvalidArgument at a plugin boundary, the others PermissionDenied).
type Reason string

// Reasons for refusing a quote.
const (
	ReasonMalformed  Reason = "malformed"
	ReasonSignature  Reason = "signature"
	ReasonReportData Reason = "report_data"
)

// Error is the error of every refusal; its message holds no nonce.
type Error = refusal.Error[Reason]

// ReasonOf returns the Reason of err, or "".
func ReasonOf(err error) Reason { return refusal.ReasonOf[Reason](err) }

func refuse(r Reason, format string, args ...any) error {
	return &Error{Reason: r, Err: fmt.Errorf("tdxquote: "+format, args...)}
}

// Options configure a Verifier.
type Options struct {
	// Roots are the trusted roots of PCK chains (nil: Intel's root).
	Roots *x509.CertPool
	// Collateral, when not nil, fetches TCB info, QE identity and CRLs
	// (trust.DefaultHTTPSGetter for Intel PCS, or a getter over files) and
	// the quote's TCB status and revocation are checked.
	Collateral trust.HTTPSGetter
	// Now returns the time certificates and collateral are checked at
	// (nil: time.Now). Tests of recorded quotes set a fixed time.
	Now func() time.Time
}

// Verifier verifies TDX quotes; it is safe for concurrent use.
type Verifier struct {
	roots      *x509.CertPool
	collateral trust.HTTPSGetter
	now        func() time.Time
}

// NewVerifier returns a Verifier.
func NewVerifier(opts Options) *Verifier {
	v := &Verifier{roots: opts.Roots, collateral: opts.Collateral, now: opts.Now}
	if v.roots == nil {
		v.roots = x509.NewCertPool()
		v.roots.AddCert(IntelRoot())
	}
	if v.now == nil {
		v.now = time.Now
	}
	return v
}

// ReportDataCheck judges the quote's 64-byte REPORT_DATA.
type ReportDataCheck func(reportData []byte) error

// Result is what a verified quote establishes. Byte fields are copies.
type Result struct {
	// MRTD is the measurement of the TD's initial contents (48 bytes).
	MRTD []byte
	// RTMRs are the four run-time measurement registers.
	RTMRs [][]byte
	// MRSeam is the measurement of the TDX module.
	MRSeam []byte
	// MRConfigID, MROwner and MROwnerConfig are set by the host at launch.
	MRConfigID, MROwner, MROwnerConfig []byte
	// TDAttributes and XFAM are the TD's attributes (8 bytes each).
	TDAttributes, XFAM []byte
	// TeeTCBSVN is the TDX module's TCB SVN (16 bytes).
	TeeTCBSVN []byte
	// ReportData is the 64-byte REPORT_DATA.
	ReportData []byte
	// Collateral is true when TCB info and QE identity were checked.
	Collateral bool
}

// Debug reports whether the TD's DEBUG attribute (bit 0) is set: the host
// can read the TD's state.
func (r *Result) Debug() bool { return len(r.TDAttributes) > 0 && r.TDAttributes[0]&1 == 1 }

// MRTDHex is MRTD in hex.
func (r *Result) MRTDHex() string { return hex.EncodeToString(r.MRTD) }

// Verify verifies quote and returns what it establishes.
func (v *Verifier) Verify(ctx context.Context, quote []byte, checkReportData ReportDataCheck) (*Result, error) {
	if checkReportData == nil {
		return nil, errors.New("tdxquote: no report data check")
	}
	if len(quote) < abi.QuoteMinSize {
		return nil, refuse(ReasonMalformed, "quote is %d bytes, shorter than the %d of a TDX quote", len(quote), abi.QuoteMinSize)
	}
	if len(quote) > MaxQuoteSize {
		return nil, refuse(ReasonMalformed, "quote is %d bytes, more than %d", len(quote), MaxQuoteSize)
	}
	parsed, err := decode(quote)
	if err != nil {
		return nil, refuse(ReasonMalformed, "quote: %w", err)
	}
	q, ok := parsed.(*pb.QuoteV4)
	if !ok {
		return nil, refuse(ReasonMalformed, "quote: %T is not a version 4 quote", parsed)
	}
	now := v.now()
	opts := &verify.Options{
		TrustedRoots:     v.roots,
		GetCollateral:    v.collateral != nil,
		CheckRevocations: v.collateral != nil,
		Getter:           v.collateral,
		Now:              &verify.TimeSet{PckCertChain: now, TcbInfo: now, QeIdentity: now, PckCrl: now, RootCaCrl: now},
	}
	if err := guard(func() error { return verify.TdxQuoteContext(ctx, q, opts) }); err != nil {
		return nil, refuse(ReasonSignature, "quote: %w", err)
	}
	body := q.GetTdQuoteBody()
	if err := checkReportData(body.GetReportData()); err != nil {
		return nil, &Error{Reason: ReasonReportData, Err: fmt.Errorf("tdxquote: %w", err)}
	}
	cp := func(b []byte) []byte { return append([]byte(nil), b...) }
	res := &Result{
		MRTD: cp(body.GetMrTd()), MRSeam: cp(body.GetMrSeam()),
		MRConfigID: cp(body.GetMrConfigId()), MROwner: cp(body.GetMrOwner()), MROwnerConfig: cp(body.GetMrOwnerConfig()),
		TDAttributes: cp(body.GetTdAttributes()), XFAM: cp(body.GetXfam()), TeeTCBSVN: cp(body.GetTeeTcbSvn()),
		ReportData: cp(body.GetReportData()), Collateral: v.collateral != nil,
	}
	for _, r := range body.GetRtmrs() {
		res.RTMRs = append(res.RTMRs, cp(r))
	}
	return res, nil
}

// decode is go-tdx-guest's abi.QuoteToProto, which panics on some crafted
// quotes (a slice bound in signedDataToProto; found by FuzzVerify, seed
// testdata/fuzz/FuzzVerify/abi-panic-signed-data-bounds): a quote from the
// network must not take the server down, so a panic is a malformed quote.
func decode(quote []byte) (parsed any, err error) {
	err = guard(func() error {
		var e error
		parsed, e = abi.QuoteToProto(quote)
		return e
	})
	return parsed, err
}

// guard runs f and turns a panic into an error.
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the decoder failed on this input (%v)", r)
		}
	}()
	return f()
}
