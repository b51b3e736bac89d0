package server

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/nodeevents"
	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

var _ nodeattestorv1.NodeAttestorServer = (*Plugin)(nil)

// Plugin is the server-side TPM node attestor.
type Plugin struct {
	nodeattestorv1.UnsafeNodeAttestorServer
	configv1.UnsafeConfigServer

	plugincfg.Holder[config]

	mu      sync.RWMutex // guards the metrics fields below
	log     hclog.Logger
	metrics metricsv1.MetricsClient
	events  *nodeevents.Events
}

// New returns an unconfigured plugin.
func New() *Plugin {
	p := &Plugin{log: hclog.NewNullLogger(), events: nodeevents.NewEvents(tpm.PluginName)}
	p.Build = func(hcl, td string, _ bool) (*config, error) { return buildConfig(hcl, td) }
	p.Loaded = func(c *config) {
		p.log.Info("Configured", c.summary()...)
		p.events.Configure(c.trustDomain.String(), c.webhooks, p.log, p.recordEvent)
	}
	return p
}

// summary is what a configuration loaded, as log fields.
func (c *config) summary() []any {
	cas, pols := c.cas.get(), c.policies.get()
	fields := []any{
		"ek_ca_certificates", cas.files, "ek_ca_subjects", cas.subjects, "bundled_ek_cas", cas.bundled,
		"policies", pols.names(), "ek_algorithms", c.algorithms,
		"deny_ek_hashes", len(c.deny), "deny_ek_certificates", len(c.denyCerts),
		"event_webhooks", len(c.webhooks),
	}
	if c.allow != nil {
		fields = append(fields, "ek_hash_allowlist", c.allow.size())
	}
	return fields
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// Attest implements the one challenge round trip.
func (p *Plugin) Attest(stream nodeattestorv1.NodeAttestor_AttestServer) error {
	c, err := p.Current()
	if err != nil {
		return err
	}
	start := time.Now()
	p.reload(c)
	a := &attempt{cas: c.cas.get(), policies: c.policies.get()}
	err = p.attest(stream, c, a)
	elapsed := time.Since(start)
	fields := []any{"duration", elapsed.String()}
	if a.ekHash != "" {
		fields = append(fields, "ek_hash", a.ekHash)
	}
	if err != nil {
		reason := refusalReason(err)
		fields = append(fields, "reason", reason, "error", err)
		p.log.Warn("TPM attestation refused", fields...)
		p.record("refused", reason, elapsed)
		p.events.Refused(a.refusal(c, reason, err))
		return err
	}
	fields = append(fields, "agent_id", a.agentID, "policies", a.satisfied)
	if len(a.failed) > 0 {
		// Report-only policies the node failed: it is attested without
		// their selectors. Operators alert on this line during a rollout.
		fields = append(fields, "policies_failed", a.failed)
	}
	p.log.Info("TPM attestation succeeded", fields...)
	p.record("success", "", elapsed)
	p.events.Attested(a.agentID, a.satisfied, a.failed)
	return nil
}

// reload re-reads the configuration files that changed (EK hash
// allowlist, EK CA files, policy files). A version that does not load is
// logged and counted once, and the previous one stays in force.
func (p *Plugin) reload(c *config) {
	if c.allow != nil {
		if reloaded, err := c.allow.refresh(); err != nil {
			p.log.Error("EK hash allowlist not reloaded; the previous list stays", "error", err)
			p.recordReload(sourceEKHashes, "failed")
		} else if reloaded {
			p.log.Info("EK hash allowlist reloaded", "ek_hashes", c.allow.size())
			p.recordReload(sourceEKHashes, "reloaded")
		}
	}
	if reloaded, err := c.cas.refresh(); err != nil {
		p.log.Error("EK CA files not reloaded; the previous CAs stay", "error", err)
		p.recordReload(sourceEKCAs, "failed")
	} else if reloaded {
		cas := c.cas.get()
		p.log.Info("EK CA files reloaded", "ek_ca_certificates", cas.files, "ek_ca_subjects", cas.subjects)
		p.recordReload(sourceEKCAs, "reloaded")
	}
	if reloaded, err := c.policies.refresh(); err != nil {
		p.log.Error("Policy files not reloaded; the previous policies stay", "error", err)
		p.recordReload(sourcePolicies, "failed")
	} else if reloaded {
		p.log.Info("Policy files reloaded", "policies", c.policies.get().names())
		p.recordReload(sourcePolicies, "reloaded")
	}
}

// attempt is one attestation: the configuration versions it uses, and what
// it found, for the log line.
type attempt struct {
	cas      caSet
	policies policySet

	ekHash    string   // once the EK is known
	proven    bool     // credential activated and quote verified: the node holds that EK
	agentID   string   // on success
	satisfied []string // policies passed
	failed    []string // report-only policies failed, with why
}

func (p *Plugin) attest(stream nodeattestorv1.NodeAttestor_AttestServer, c *config, a *attempt) error {
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	payload := req.GetPayload()
	if len(payload) == 0 {
		return status.Error(codes.InvalidArgument, "missing attestation payload")
	}
	att, err := tpmquote.DecodeAttestation(payload)
	if err != nil {
		return refusal(err)
	}
	ch, session, err := a.cas.verifier.Challenge(att)
	if err != nil {
		a.ekHash = att.ClaimedEKHash()
		return refusal(err)
	}
	a.ekHash = session.EK().Hash
	if err := c.admit(session.EK()); err != nil {
		return err
	}
	b, err := ch.Marshal()
	if err != nil {
		return status.Errorf(codes.Internal, "encode challenge: %v", err)
	}
	if err := stream.Send(&nodeattestorv1.AttestResponse{Response: &nodeattestorv1.AttestResponse_Challenge{Challenge: b}}); err != nil {
		return err
	}
	req, err = stream.Recv()
	if err != nil {
		return err
	}
	if len(req.GetChallengeResponse()) == 0 {
		return status.Error(codes.InvalidArgument, "missing challenge response")
	}
	resp, err := tpmquote.DecodeResponse(req.GetChallengeResponse())
	if err != nil {
		return refusal(err)
	}
	res, err := session.Verify(resp)
	// A node whose logs do not replay after its quote verified is that
	// EK's node: its refusal names the agent.
	a.proven = session.Proven()
	if err != nil {
		return refusal(err)
	}
	out := policy.EvaluateAll(a.policies.policies, res)
	a.satisfied, a.failed = out.Satisfied, out.Failed
	if len(out.Refused) > 0 {
		return &policyError{reasons: out.Refused}
	}
	id, err := tpm.AgentID(c.trustDomain, res.EKHash)
	if err != nil {
		return status.Errorf(codes.Internal, "agent ID: %v", err)
	}
	err = stream.Send(&nodeattestorv1.AttestResponse{Response: &nodeattestorv1.AttestResponse_AgentAttributes{
		AgentAttributes: &nodeattestorv1.AgentAttributes{
			SpiffeId:       id.String(),
			SelectorValues: tpm.Selectors(res, tpm.SelectorOptions{PCRs: c.expose, Policies: out.Satisfied, BootPCRs: c.exposeBoot}),
			CanReattest:    true,
		},
	}})
	if err == nil {
		a.agentID = id.String()
	}
	return err
}

// refusal is the node event of a refused attempt. Only a node that proved
// it holds its EK (credential activation and quote verified) is named as
// the agent; before that, the EK (and so the agent ID) is only claimed: a
// copy of another node's EK certificate must not make events about it.
func (a *attempt) refusal(c *config, reason string, err error) nodeevents.Refusal {
	r := nodeevents.Refusal{Reason: reason, Err: err}
	if a.ekHash != "" {
		if id, idErr := tpm.AgentID(c.trustDomain, a.ekHash); idErr == nil {
			if a.proven {
				r.AgentID = id.String()
			} else {
				r.ClaimedAgentID = id.String()
			}
		}
	}
	var pe *policyError
	if a.proven && errors.As(err, &pe) {
		r.Evaluated, r.Policies, r.Failed = true, a.satisfied, a.failed
	}
	return r
}

// admit refuses an EK of an algorithm not accepted and a denied EK: denied
// by its hash, or by its certificate whether or not the certificate
// verified.
func (c *config) admit(ek *tpmquote.EK) error {
	if alg := tpm.EKAlgorithm(ek.Public); !slices.Contains(c.algorithms, alg) {
		return &algorithmError{algorithm: alg, accepted: c.algorithms}
	}
	if c.deny[ek.Hash] {
		return &deniedError{what: "EK " + ek.Hash}
	}
	if ek.Certificate != nil {
		if id := tpm.EKCertificateID(ek.Certificate); c.denyCerts[id] {
			return &deniedError{what: "EK " + ek.Hash + " with certificate " + id}
		}
	}
	return nil
}

// refusalReason names why an attestation failed, for logs and metric labels.
func refusalReason(err error) string {
	if r := tpmquote.ReasonOf(err); r != "" {
		return string(r)
	}
	var d *deniedError
	if errors.As(err, &d) {
		return "ek_denied"
	}
	var a *algorithmError
	if errors.As(err, &a) {
		return "ek_algorithm"
	}
	var pe *policyError
	if errors.As(err, &pe) {
		return "policy"
	}
	return strings.ToLower(status.Code(err).String())
}

// deniedError refuses an EK on a deny list (deny_ek_hashes or
// deny_ek_certificates). It is a gRPC PermissionDenied status for SPIRE and
// keeps its reason for the log and metrics.
type deniedError struct{ what string }

func (e *deniedError) Error() string { return e.what + " is denied" }

// algorithmError refuses an EK whose algorithm ek_algorithms does not list:
// another EK of an accepted machine would be another agent ID, outside the
// operator's deny lists.
type algorithmError struct {
	algorithm string
	accepted  []string
}

func (e *algorithmError) Error() string {
	quoted := make([]string, len(e.accepted))
	for i, a := range e.accepted {
		quoted[i] = strconv.Quote(a)
	}
	accepted := "[" + strings.Join(quoted, ", ") + "]"
	if e.algorithm == "" {
		return "EK of an unknown key type not accepted: the server's ek_algorithms is " + accepted
	}
	return fmt.Sprintf("%s EK not accepted: the server's ek_algorithms is %s (add %q to accept it)",
		e.algorithm, accepted, e.algorithm)
}

// GRPCStatus makes the error a PermissionDenied status.
func (e *algorithmError) GRPCStatus() *status.Status {
	return status.New(codes.PermissionDenied, e.Error())
}

// GRPCStatus makes the error a PermissionDenied status.
func (e *deniedError) GRPCStatus() *status.Status {
	return status.New(codes.PermissionDenied, e.Error())
}

// refusal maps a tpmquote refusal to its gRPC code: undecodable evidence is
// InvalidArgument, evidence that does not verify is PermissionDenied. The
// tpmquote error stays wrapped, so its reason reaches the log and metrics.
func refusal(err error) error {
	var e *tpmquote.Error
	switch {
	case !errors.As(err, &e):
		return &refusedError{code: codes.Internal, err: err}
	case e.Reason == tpmquote.ReasonMalformed:
		return &refusedError{code: codes.InvalidArgument, err: err}
	}
	return &refusedError{code: codes.PermissionDenied, err: err}
}

// refusedError is a gRPC status error that keeps the error it reports.
type refusedError struct {
	code codes.Code
	err  error
}

func (e *refusedError) Error() string { return e.err.Error() }

func (e *refusedError) Unwrap() error { return e.err }

// GRPCStatus makes the error a status with its code.
func (e *refusedError) GRPCStatus() *status.Status { return status.New(e.code, e.err.Error()) }

// policyError refuses a node that failed a required policy, with the reasons
// an operator can act on.
type policyError struct{ reasons []string }

func (e *policyError) Error() string { return strings.Join(e.reasons, "; ") }

// GRPCStatus makes the error a PermissionDenied status.
func (e *policyError) GRPCStatus() *status.Status {
	return status.New(codes.PermissionDenied, e.Error())
}
