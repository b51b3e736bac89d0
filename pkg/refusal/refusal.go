// Package refusal is the error type of the evidence verifiers (pkg/tpmquote,
// pkg/snpreport, pkg/tdxquote): a refusal carries a stable reason, which a
// plugin turns into a gRPC code and a metric label, and an error whose message
// is safe to log (no nonce, no secret). Each verifier declares its own Reason
// type and aliases Error to this type instantiated with it.
package refusal

import "errors"

// Error is a refusal: why (Reason) and what (Err).
type Error[R ~string] struct {
	Reason R
	Err    error
}

func (e *Error[R]) Error() string { return e.Err.Error() }

func (e *Error[R]) Unwrap() error { return e.Err }

// ReasonOf returns the Reason of the first refusal of type *Error[R] in
// err's chain, or "" when there is none.
func ReasonOf[R ~string](err error) R {
	var e *Error[R]
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}
