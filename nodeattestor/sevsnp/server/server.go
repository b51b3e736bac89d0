package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp"
	"github.com/hwattest/hwattest/pkg/reportdata"
	"github.com/hwattest/hwattest/pkg/snpreport"
)

var _ nodeattestorv1.NodeAttestorServer = (*Plugin)(nil)

// Plugin is the server-side SEV-SNP node attestor.
type Plugin struct {
	nodeattestorv1.UnsafeNodeAttestorServer
	configv1.UnsafeConfigServer

	plugincfg.Holder[config]

	log hclog.Logger
}

// New returns an unconfigured plugin.
func New() *Plugin {
	p := &Plugin{log: hclog.NewNullLogger()}
	p.Build = func(hcl, td string, _ bool) (*config, error) { return buildConfig(hcl, td) }
	return p
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// Attest implements the one round trip.
func (p *Plugin) Attest(stream nodeattestorv1.NodeAttestor_AttestServer) error {
	c, err := p.Current()
	if err != nil {
		return err
	}
	start := time.Now()
	res, agentID, err := p.attest(stream, c)
	fields := []any{"duration", time.Since(start).String()}
	if res != nil {
		fields = append(fields, "report_id", res.ReportIDHex(), "measurement", hex.EncodeToString(res.Measurement))
	}
	if err != nil {
		p.log.Warn("SEV-SNP attestation refused", append(fields, "reason", refusalReason(err), "error", err)...)
		return err
	}
	p.log.Info("SEV-SNP attestation succeeded", append(fields, "agent_id", agentID)...)
	return nil
}

func (p *Plugin) attest(stream nodeattestorv1.NodeAttestor_AttestServer, c *config) (*snpreport.Result, string, error) {
	req, err := stream.Recv()
	if err != nil {
		return nil, "", err
	}
	hello := req.GetPayload()
	if len(hello) > sevsnp.MaxHelloSize || string(hello) != string(sevsnp.Hello) {
		return nil, "", status.Errorf(codes.InvalidArgument, "the agent's first message is not %q", sevsnp.Hello)
	}
	nonce := make([]byte, reportdata.NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", status.Errorf(codes.Internal, "nonce: %v", err)
	}
	if err := stream.Send(&nodeattestorv1.AttestResponse{Response: &nodeattestorv1.AttestResponse_Challenge{Challenge: nonce}}); err != nil {
		return nil, "", err
	}
	req, err = stream.Recv()
	if err != nil {
		return nil, "", err
	}
	evidence := req.GetChallengeResponse()
	if len(evidence) == 0 {
		return nil, "", status.Error(codes.InvalidArgument, "missing challenge response")
	}
	td := c.trustDomain.Name()
	res, err := c.verifier.Verify(stream.Context(), evidence, func(got []byte) error { return reportdata.Check(got, nonce, td) })
	if err != nil {
		return nil, "", refusal(err)
	}
	satisfied, failed := snpreport.EvaluatePolicies(c.policies, res)
	if len(failed) > 0 {
		return res, "", &refusedError{code: codes.PermissionDenied, err: errors.New(strings.Join(failed, "; ")), reason: "policy"}
	}
	id, err := sevsnp.AgentID(c.trustDomain, res)
	if err != nil {
		return res, "", &refusedError{code: codes.PermissionDenied, err: err, reason: "agent_id"}
	}
	err = stream.Send(&nodeattestorv1.AttestResponse{Response: &nodeattestorv1.AttestResponse_AgentAttributes{
		AgentAttributes: &nodeattestorv1.AgentAttributes{
			SpiffeId:       id.String(),
			SelectorValues: sevsnp.Selectors(res, satisfied),
			CanReattest:    true,
		},
	}})
	return res, id.String(), err
}

// refusal maps a snpreport refusal to its gRPC code: undecodable evidence is
// InvalidArgument, evidence that does not verify PermissionDenied.
func refusal(err error) error {
	r := snpreport.ReasonOf(err)
	switch r {
	case "":
		return &refusedError{code: codes.Internal, err: err, reason: "internal"}
	case snpreport.ReasonMalformed:
		return &refusedError{code: codes.InvalidArgument, err: err, reason: string(r)}
	}
	return &refusedError{code: codes.PermissionDenied, err: err, reason: string(r)}
}

// refusedError is a gRPC status error that keeps the error it reports and a
// reason for the log.
type refusedError struct {
	code   codes.Code
	err    error
	reason string
}

func (e *refusedError) Error() string { return e.err.Error() }

func (e *refusedError) Unwrap() error { return e.err }

// GRPCStatus makes the error a status with its code.
func (e *refusedError) GRPCStatus() *status.Status { return status.New(e.code, e.err.Error()) }

func refusalReason(err error) string {
	var r *refusedError
	if errors.As(err, &r) {
		return r.reason
	}
	return strings.ToLower(status.Code(err).String())
}
