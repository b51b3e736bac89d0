package snpreport

import (
	"fmt"

	"github.com/hwattest/hwattest/pkg/refusal"
)

// Reason classifies why evidence was refused: stable strings for metric
// labels and for callers that branch (a plugin maps ReasonMalformed to
// InvalidArgument, the others to PermissionDenied).
type Reason string

// Reasons for refusing evidence.
const (
	// ReasonMalformed: the evidence is truncated, too large or does not
	// decode as a report and certificate table.
	ReasonMalformed Reason = "malformed"
	// ReasonSignature: the signing key's certificate does not chain to a
	// trusted AMD root, or the report's signature does not verify with it.
	ReasonSignature Reason = "signature"
	// ReasonReportData: REPORT_DATA is not what the caller expects (another
	// nonce, another trust domain).
	ReasonReportData Reason = "report_data"
	// ReasonInconsistent: the signed report contradicts its certificate or
	// itself (go-sev-guest's validate checks).
	ReasonInconsistent Reason = "inconsistent"
)

// Error is the error type of every refusal. Its message is safe to log: it
// holds neither the nonce nor REPORT_DATA.
type Error = refusal.Error[Reason]

// ReasonOf returns the Reason of err, or "" when err is not a refusal from
// this package.
func ReasonOf(err error) Reason { return refusal.ReasonOf[Reason](err) }

func refuse(r Reason, format string, args ...any) error {
	return &Error{Reason: r, Err: fmt.Errorf("snpreport: "+format, args...)}
}
