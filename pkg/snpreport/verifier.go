package snpreport

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/validate"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// ReportSize is the size of an SEV-SNP attestation report (ABI 0x4A0 bytes).
const ReportSize = abi.ReportSize

// MaxEvidenceSize bounds the evidence: a report and its certificate table.
// AMD's table (ARK, ASK, VCEK or VLEK, platform info) is about 5 KiB; 64 KiB
// leaves room for cloud providers' extra entries.
const MaxEvidenceSize = 64 << 10

// ProductLines are the AMD product lines whose roots go-sev-guest embeds.
var ProductLines = []string{"Milan", "Genoa", "Turin"}

// Options configure a Verifier.
type Options struct {
	// Roots are the trusted AMD root (ARK) and signing key (ASK/ASVK)
	// certificates per product line ("Milan", "Genoa", "Turin"). Nil: AMD's
	// roots embedded in go-sev-guest, for every product line.
	Roots map[string][]*trust.AMDRootCerts
	// AllowKDS lets go-sev-guest fetch a missing VCEK and ASK/ARK from AMD's
	// Key Distribution Service (kdsintf.amd.com). Off, evidence without its
	// VCEK certificate is refused and verification needs no network.
	AllowKDS bool
	// Getter fetches from KDS when AllowKDS is set (nil: go-sev-guest's
	// default HTTPS getter).
	Getter trust.HTTPSGetter
	// Now returns the time certificates are checked at (nil: time.Now).
	// Tests of recorded evidence set a fixed time.
	Now func() time.Time
}

// Verifier verifies SEV-SNP evidence. It is safe for concurrent use.
type Verifier struct {
	roots    map[string][]*trust.AMDRootCerts
	allowKDS bool
	getter   trust.HTTPSGetter
	now      func() time.Time
}

// NewVerifier returns a Verifier. The roots are always explicit: the
// embedded AMD roots when opts.Roots is nil.
func NewVerifier(opts Options) (*Verifier, error) {
	roots := opts.Roots
	if roots == nil {
		roots = map[string][]*trust.AMDRootCerts{}
		for _, line := range ProductLines {
			r, err := trust.GetDefaultRootCerts(line)
			if err != nil {
				return nil, fmt.Errorf("snpreport: embedded %s roots: %w", line, err)
			}
			roots[line] = []*trust.AMDRootCerts{r}
		}
	}
	if len(roots) == 0 {
		return nil, errors.New("snpreport: no trusted roots")
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	return &Verifier{roots: roots, allowKDS: opts.AllowKDS, getter: opts.Getter, now: now}, nil
}

// ReportDataCheck judges the report's 64-byte REPORT_DATA; a non-nil error
// refuses the evidence with ReasonReportData and is wrapped.
type ReportDataCheck func(reportData []byte) error

// Exactly is a ReportDataCheck for one expected value (recorded evidence).
func Exactly(want []byte) ReportDataCheck {
	return func(got []byte) error {
		if string(got) != string(want) {
			return errors.New("report data is not the expected value")
		}
		return nil
	}
}

// Verify verifies evidence (a report followed by its certificate table) and
// returns what the report establishes. checkReportData must accept the
// report's REPORT_DATA.
func (v *Verifier) Verify(ctx context.Context, evidence []byte, checkReportData ReportDataCheck) (*Result, error) {
	if checkReportData == nil {
		return nil, errors.New("snpreport: no report data check")
	}
	if len(evidence) < ReportSize {
		return nil, refuse(ReasonMalformed, "evidence is %d bytes, shorter than a %d-byte report", len(evidence), ReportSize)
	}
	if len(evidence) > MaxEvidenceSize {
		return nil, refuse(ReasonMalformed, "evidence is %d bytes, more than %d", len(evidence), MaxEvidenceSize)
	}
	if err := abi.ValidateReportFormat(evidence[:ReportSize]); err != nil {
		return nil, refuse(ReasonMalformed, "report: %w", err)
	}
	var report *spb.Report
	err := guard(func() (e error) { report, e = abi.ReportToProto(evidence[:ReportSize]); return e })
	if err != nil {
		return nil, refuse(ReasonMalformed, "report: %w", err)
	}
	info, err := abi.ParseSignerInfo(report.GetSignerInfo())
	if err != nil {
		return nil, refuse(ReasonMalformed, "signer info: %w", err)
	}
	table := new(abi.CertTable)
	if err := guard(func() error { return table.Unmarshal(evidence[ReportSize:]) }); err != nil {
		return nil, refuse(ReasonMalformed, "certificate table: %w", err)
	}
	// Checked before table.Proto(), which logs a warning through the
	// process-wide google/logger for a table without them: evidence must
	// not be able to write to the server's output.
	if !v.allowKDS && !hasSigningCert(table, info.SigningKey) {
		return nil, refuse(ReasonSignature, "the certificate table holds no %v certificate and fetching it from AMD KDS is not allowed", info.SigningKey)
	}
	att := &spb.Attestation{Report: report, CertificateChain: table.Proto()}
	opts := &verify.Options{
		DisableCertFetching: !v.allowKDS,
		Getter:              v.getter,
		Now:                 v.now(),
		TrustedRoots:        v.roots,
	}
	if err := guard(func() error { return verify.SnpAttestationContext(ctx, att, opts) }); err != nil {
		return nil, refuse(ReasonSignature, "report signature: %w", err)
	}
	// Nothing in the report is believed before REPORT_DATA is: a genuine
	// report made for another challenge is refused here.
	if err := checkReportData(report.GetReportData()); err != nil {
		return nil, &Error{Reason: ReasonReportData, Err: fmt.Errorf("snpreport: %w", err)}
	}
	if err := guard(func() error { return validate.SnpAttestation(att, consistencyOnly()) }); err != nil {
		return nil, refuse(ReasonInconsistent, "report: %w", err)
	}
	return newResult(att, info)
}

// consistencyOnly are validate options that check the report against its
// certificate and itself but leave every choice (debug, SMT, measurement,
// minimum TCB...) to the named policies, which report each failed rule.
func consistencyOnly() *validate.Options {
	return &validate.Options{
		GuestPolicy: abi.SnpPolicy{
			ABIMajor: 0, ABIMinor: 0,
			SMT: true, MigrateMA: true, Debug: true, CXLAllowed: true,
		},
		PermitProvisionalFirmware: true,
	}
}

func hasSigningCert(table *abi.CertTable, key abi.ReportSigner) bool {
	guid := ""
	switch key {
	case abi.VcekReportSigner:
		guid = abi.VcekGUID
	case abi.VlekReportSigner:
		guid = abi.VlekGUID
	default:
		return false
	}
	b, err := table.GetByGUIDString(guid)
	return err == nil && len(b) > 0
}

// RootProductLines returns the product lines the verifier has roots for.
func (v *Verifier) RootProductLines() []string {
	out := make([]string, 0, len(v.roots))
	for k := range v.roots {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// guard runs a go-sev-guest decoding or verification step and turns a panic
// into an error: evidence from the network must not take the server down
// (go-tdx-guest's quote decoder has such a bug, see pkg/tdxquote; the same
// guard here costs nothing).
func guard(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the decoder failed on this input (%v)", r)
		}
	}()
	return f()
}
