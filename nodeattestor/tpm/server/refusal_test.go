package server

import (
	"errors"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// TestRefusalCodes maps every tpmquote reason to its gRPC code and keeps the
// reason for logs and metrics.
func TestRefusalCodes(t *testing.T) {
	for reason, code := range map[tpmquote.Reason]codes.Code{
		tpmquote.ReasonMalformed:   codes.InvalidArgument,
		tpmquote.ReasonEKUntrusted: codes.PermissionDenied,
		tpmquote.ReasonEKMismatch:  codes.PermissionDenied,
		tpmquote.ReasonAKInvalid:   codes.PermissionDenied,
		tpmquote.ReasonActivation:  codes.PermissionDenied,
		tpmquote.ReasonQuote:       codes.PermissionDenied,
		tpmquote.ReasonEventLog:    codes.PermissionDenied,
		tpmquote.ReasonIMALog:      codes.PermissionDenied,
		tpmquote.ReasonSessionUsed: codes.PermissionDenied,
	} {
		err := refusal(&tpmquote.Error{Reason: reason, Err: errors.New("tpmquote: x")})
		if status.Code(err) != code || refusalReason(err) != string(reason) {
			t.Errorf("%s: code %v reason %q", reason, status.Code(err), refusalReason(err))
		}
	}
	if err := refusal(errors.New("boom")); status.Code(err) != codes.Internal {
		t.Errorf("plain error: %v", status.Code(err))
	}
	if err := error(&deniedError{what: "EK ab"}); status.Code(err) != codes.PermissionDenied || refusalReason(err) != "ek_denied" || err.Error() != "EK ab is denied" {
		t.Errorf("denied: %v %q %q", status.Code(err), refusalReason(err), err)
	}
	if err := error(&algorithmError{algorithm: "ecc", accepted: []string{"rsa"}}); status.Code(err) != codes.PermissionDenied || refusalReason(err) != "ek_algorithm" {
		t.Errorf("algorithm: %v %q", status.Code(err), refusalReason(err))
	}
	if err := error(&policyError{reasons: []string{"x"}}); status.Code(err) != codes.PermissionDenied || refusalReason(err) != "policy" {
		t.Errorf("policy: %v %q", status.Code(err), refusalReason(err))
	}
}
