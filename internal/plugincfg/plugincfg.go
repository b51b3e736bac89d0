// Package plugincfg holds what every hwattest plugin answers SPIRE's config
// service the same way: the answers to a configuration that does not build,
// and Holder, which keeps the configuration in force.
package plugincfg

import (
	"context"
	"sync"

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

// Holder keeps a plugin's configuration. It answers SPIRE's Configure and
// Validate calls with one builder, so that Validate checks exactly what
// Configure would, and gives each call the configuration in force. A plugin
// embeds it and sets Build (and Loaded) in its constructor.
type Holder[T any] struct {
	// Build makes the configuration from the plugin's HCL and the trust
	// domain of SPIRE's core configuration. configure is false for
	// Validate: a builder may then skip what only a configured plugin
	// needs (reading a private key, for one).
	Build func(hcl, trustDomain string, configure bool) (*T, error)
	// Loaded, when set, is called with each configuration Configure puts
	// in force (to log a summary of it).
	Loaded func(*T)

	mu  sync.RWMutex
	cur *T
}

// Configure implements configv1.ConfigServer: a configuration that does
// not build is refused with every problem (InvalidArgument) and the one in
// force stays.
func (h *Holder[T]) Configure(_ context.Context, req *configv1.ConfigureRequest) (*configv1.ConfigureResponse, error) {
	c, err := h.Build(req.GetHclConfiguration(), req.GetCoreConfiguration().GetTrustDomain(), true)
	if err != nil {
		return nil, Invalid(err)
	}
	h.mu.Lock()
	h.cur = c
	h.mu.Unlock()
	if h.Loaded != nil {
		h.Loaded(c)
	}
	return &configv1.ConfigureResponse{}, nil
}

// Validate implements configv1.ConfigServer with Configure's checks.
func (h *Holder[T]) Validate(_ context.Context, req *configv1.ValidateRequest) (*configv1.ValidateResponse, error) {
	_, err := h.Build(req.GetHclConfiguration(), req.GetCoreConfiguration().GetTrustDomain(), false)
	return Validation(err), nil
}

// Current is the configuration in force, or FailedPrecondition before the
// first successful Configure.
func (h *Holder[T]) Current() (*T, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.cur == nil {
		return nil, status.Error(codes.FailedPrecondition, "not configured")
	}
	return h.cur, nil
}
