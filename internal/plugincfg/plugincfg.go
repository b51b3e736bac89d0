// Package plugincfg holds what every hwattest plugin answers SPIRE's config
// service the same way.
package plugincfg

import (
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Validation is a plugin's answer to SPIRE's Validate call for the error its
// configuration builder returned: valid when err is nil, otherwise not valid
// with the error (every problem, joined) as the note.
func Validation(err error) *configv1.ValidateResponse {
	if err != nil {
		return &configv1.ValidateResponse{Valid: false, Notes: []string{err.Error()}}
	}
	return &configv1.ValidateResponse{Valid: true}
}

// Invalid is a plugin's answer to SPIRE's Configure call when its
// configuration builder returned err (not nil): InvalidArgument with every
// problem.
func Invalid(err error) error {
	return status.Errorf(codes.InvalidArgument, "invalid configuration: %v", err)
}
