package tpmquote

import (
	"fmt"

	"github.com/hwattest/hwattest/pkg/refusal"
)

// Reason classifies why evidence was refused. Reasons are stable strings,
// suitable for metric labels and for callers that must branch (a plugin maps
// ReasonMalformed to InvalidArgument and the others to PermissionDenied).
type Reason string

// Reasons for refusing evidence.
const (
	// ReasonMalformed: the evidence cannot be decoded, exceeds a size limit,
	// or has the wrong version or shape.
	ReasonMalformed Reason = "malformed"
	// ReasonEKUntrusted: the EK certificate does not chain to a trusted root,
	// or the EK is neither certified nor on the allowlist as required.
	ReasonEKUntrusted Reason = "ek_untrusted"
	// ReasonEKMismatch: the sent EK public area does not carry the key of the
	// validated EK certificate.
	ReasonEKMismatch Reason = "ek_mismatch"
	// ReasonAKInvalid: the AK is not a restricted, fixedTPM, fixedParent
	// signing key, or its creation evidence does not verify.
	ReasonAKInvalid Reason = "ak_invalid"
	// ReasonActivation: the activated secret is wrong: the AK and the EK are
	// not in the same TPM.
	ReasonActivation Reason = "activation_failed"
	// ReasonQuote: the quote signature, type, nonce, PCR selection or PCR
	// digest does not verify.
	ReasonQuote Reason = "quote_invalid"
	// ReasonEventLog: the boot event log does not replay to the quoted PCRs.
	ReasonEventLog Reason = "eventlog_replay"
	// ReasonIMALog: the IMA log does not replay to the quoted PCR 10.
	ReasonIMALog Reason = "ima_replay"
	// ReasonPCRBanks: the attester offers none of the PCR banks the verifier
	// quotes.
	ReasonPCRBanks Reason = "pcr_banks"
	// ReasonSessionUsed: a challenge session verifies one response only.
	ReasonSessionUsed Reason = "session_used"
)

// Error is the error type of every refusal. Its message is safe to log: it
// never holds a secret or a nonce.
type Error = refusal.Error[Reason]

// ReasonOf returns the Reason of err, or "" when err is not a refusal from
// this package.
func ReasonOf(err error) Reason { return refusal.ReasonOf[Reason](err) }

// errorf formats an error with the package prefix.
func errorf(format string, args ...any) error {
	return fmt.Errorf("tpmquote: "+format, args...)
}

// refuse returns an *Error with the package prefix.
func refuse(r Reason, format string, args ...any) error {
	return &Error{Reason: r, Err: errorf(format, args...)}
}
