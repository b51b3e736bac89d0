package attestation

import (
	"context"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	credentialcomposerv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/credentialcomposer/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/internal/spireapi"
	"github.com/hwattest/hwattest/pkg/claims"
)

// Name is the plugin's conventional name in SPIRE's configuration.
const Name = "attestation"

// Log field names.
const (
	logSPIFFEID = "spiffe_id"
	logOutcome  = "outcome"
	logError    = "error"
)

// Outcomes of one composition (the "outcome" metric label).
const (
	outcomeComposed     = "composed"      // the claims were added
	outcomeNoEntries    = "no_entries"    // the ID has no registration entries: issued without claims
	outcomeAgentUnknown = "agent_unknown" // an agent's first attestation: no node record yet
	outcomeRefused      = "refused"       // the SPIRE API did not answer: refused (fail closed)
	outcomeFailOpen     = "fail_open"     // the SPIRE API did not answer: issued without claims
	outcomeError        = "error"         // the claims could not be added (too large, a conflict)
)

var (
	_ credentialcomposerv1.CredentialComposerServer = (*Plugin)(nil)
	_ pluginsdk.NeedsLogger                         = (*Plugin)(nil)
	_ pluginsdk.NeedsHostServices                   = (*Plugin)(nil)
)

// Plugin is the attestation credential composer.
type Plugin struct {
	credentialcomposerv1.UnimplementedCredentialComposerServer
	configv1.UnsafeConfigServer

	// dial connects to the SPIRE server API (tests give a fake).
	dial func(socket string) (API, func() error, error)
	now  func() time.Time

	mu      sync.RWMutex
	state   *state
	log     hclog.Logger
	metrics metricsv1.MetricsClient
	tally   tally
}

// state is what one Configure call sets up.
type state struct {
	config *config
	api    API
	close  func() error
	cache  *cache
	stop   context.CancelFunc
}

// New returns an unconfigured plugin that talks to the SPIRE server API on
// its socket.
func New() *Plugin {
	return &Plugin{
		dial: func(socket string) (API, func() error, error) {
			c, err := spireapi.Dial(socket)
			if err != nil {
				return nil, nil, err
			}
			return c, c.Close, nil
		},
		now: time.Now,
		log: hclog.NewNullLogger(),
	}
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// BrokerHostServices implements pluginsdk.NeedsHostServices: it takes
// SPIRE's metrics service when the host offers it.
func (p *Plugin) BrokerHostServices(broker pluginsdk.ServiceBroker) error {
	var m metricsv1.MetricsServiceClient
	if broker.BrokerClient(&m) {
		p.mu.Lock()
		p.metrics = m
		p.mu.Unlock()
	}
	return nil
}

// Configure implements configv1.ConfigServer. A reconfiguration starts with
// a new connection and an empty cache.
func (p *Plugin) Configure(_ context.Context, req *configv1.ConfigureRequest) (*configv1.ConfigureResponse, error) {
	c, err := buildConfig(req.HclConfiguration)
	if err != nil {
		return nil, plugincfg.Invalid(err)
	}
	api, closeAPI, err := p.dial(c.socket)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "SPIRE server API: %v", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &state{config: c, api: api, close: closeAPI, cache: newCache(c.cacheSize, p.now), stop: stop}
	p.mu.Lock()
	old := p.state
	p.state = s
	p.mu.Unlock()
	if old != nil {
		old.stop()
		time.AfterFunc(old.config.timeout+time.Second, func() { _ = old.close() })
	}
	go p.refresh(ctx, s)
	go p.flushLoop(ctx)
	return &configv1.ConfigureResponse{}, nil
}

// Validate implements configv1.ConfigServer with Configure's checks.
func (p *Plugin) Validate(_ context.Context, req *configv1.ValidateRequest) (*configv1.ValidateResponse, error) {
	_, err := buildConfig(req.HclConfiguration)
	return plugincfg.Validation(err), nil
}

// refresh fetches the cached answers again every refresh interval, so that
// requests find them warm; an answer it cannot refresh ages out after
// max_age and the next request fetches it itself. One pass reads each
// parent once, stops at the first failure (the API is down, or the lookup
// itself fails: the rest would fail alike) and logs it once.
func (p *Plugin) refresh(ctx context.Context, s *state) {
	t := time.NewTicker(s.config.refreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		stale := s.cache.stale(s.config.refreshInterval)
		parents := map[string]*nodeRequirement{}
		for i, raw := range stale {
			if ctx.Err() != nil {
				return
			}
			id, err := spiffeid.FromString(raw)
			if err != nil {
				continue
			}
			if _, err := s.cache.fetch(s.api, id, s.config.agentTTL, s.config.timeout, parents); err != nil {
				p.log.Warn("Could not refresh the registration entries of cached SPIFFE IDs; they age out after max_age",
					logSPIFFEID, raw, "not_refreshed", len(stale)-i, logError, err)
				p.count("refresh", "error", 0)
				break
			}
		}
		p.gauge(float32(s.cache.len()))
	}
}

func (p *Plugin) current() (*state, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.state == nil {
		return nil, status.Error(codes.FailedPrecondition, "not configured")
	}
	return p.state, nil
}

// workloadRequirement returns what SPIRE required of id's SVIDs: nil when
// the ID has no registration entries, or when the API does not answer and
// the plugin fails open; an Unavailable error when it does not answer and
// the plugin fails closed.
func (p *Plugin) workloadRequirement(ctx context.Context, kind, rawID string) (*requirement, string, error) {
	s, err := p.current()
	if err != nil {
		return nil, "", err
	}
	id, err := spiffeid.FromString(rawID)
	if err != nil {
		return nil, "", status.Errorf(codes.InvalidArgument, "SPIFFE ID %q: %v", rawID, err)
	}
	req, ok := s.cache.get(id.String(), s.config.maxAge)
	if !ok {
		req, err = s.cache.fetch(s.api, id, s.config.agentTTL, s.config.timeout, nil)
		if err != nil {
			_, outcome, err := p.unreachable(s, kind, rawID, err)
			return nil, outcome, err
		}
	}
	if !req.found {
		p.log.Debug("No registration entry for the SPIFFE ID: issued without claims", logSPIFFEID, rawID)
		return nil, outcomeNoEntries, nil
	}
	return req, outcomeComposed, nil
}

// claimsOf builds the claims of a workload SVID from what SPIRE required.
func claimsOf(req *requirement, iat time.Time) *claims.Claims {
	node := appraise(claims.SubmodNode, req.node)
	node.AgentID, node.AttestedAt = req.agentID, req.attestedAt
	return &claims.Claims{
		IssuedAt: iat.UTC(),
		Verifier: verifier,
		Node:     node,
		Workload: appraise(claims.SubmodWorkload, req.workload),
	}
}

// unreachable handles a lookup that failed. The API did not answer
// (Unavailable, DeadlineExceeded): refuse (Unavailable), or issue without
// claims when fail_open is set. It answered with another error: refuse
// (Internal), whatever fail_open says.
func (p *Plugin) unreachable(s *state, kind, rawID string, err error) (*claims.Claims, string, error) {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded:
	default:
		p.log.Error("Could not read the registration entries: refusing the SVID", logSPIFFEID, rawID, logError, err)
		return nil, outcomeError, status.Errorf(codes.Internal, "%s of %s: could not read the registration entries: %v", kind, rawID, err)
	}
	if s.config.failOpen {
		p.log.Warn("SPIRE server API did not answer: issuing without attestation claims (fail_open)", logSPIFFEID, rawID, logError, err)
		return nil, outcomeFailOpen, nil
	}
	p.log.Error("SPIRE server API did not answer: refusing the SVID (set fail_open to issue without claims)", logSPIFFEID, rawID, logError, err)
	return nil, outcomeRefused, status.Errorf(codes.Unavailable, "%s of %s: SPIRE server API did not answer, refusing to issue without attestation claims: %v", kind, rawID, err)
}

// ComposeWorkloadX509SVID implements credentialcomposerv1: it appends the
// id-pe-cmw extension to the attributes it was given.
func (p *Plugin) ComposeWorkloadX509SVID(ctx context.Context, req *credentialcomposerv1.ComposeWorkloadX509SVIDRequest) (*credentialcomposerv1.ComposeWorkloadX509SVIDResponse, error) {
	started := p.now()
	r, outcome, err := p.workloadRequirement(ctx, "X509-SVID", req.GetSpiffeId())
	var value []byte
	if err == nil && r != nil {
		if value, err = r.memo.x509(r, started); err != nil {
			outcome, err = outcomeError, status.Errorf(codes.Internal, "%v", err)
		}
	}
	attrs, outcome, err := p.withExtension(req.GetAttributes(), value, outcome, err)
	p.count("x509", outcome, p.now().Sub(started))
	if err != nil {
		return nil, err
	}
	return &credentialcomposerv1.ComposeWorkloadX509SVIDResponse{Attributes: attrs}, nil
}

// ComposeAgentX509SVID implements credentialcomposerv1: the node submod,
// from the agent's stored selectors. SPIRE signs an agent's SVID before it
// stores the selectors of the attestation that SVID is for: the claims are
// those of the agent's previous attestation, labelled with its time; an
// agent's first SVID has none.
func (p *Plugin) ComposeAgentX509SVID(ctx context.Context, req *credentialcomposerv1.ComposeAgentX509SVIDRequest) (*credentialcomposerv1.ComposeAgentX509SVIDResponse, error) {
	started := p.now()
	c, outcome, err := p.agentClaims(ctx, req.GetSpiffeId())
	var value []byte
	if err == nil && c != nil {
		ext, xerr := c.X509Extension()
		if xerr != nil {
			outcome, err = outcomeError, status.Errorf(codes.Internal, "%v", xerr)
		}
		value = ext.Value
	}
	attrs, outcome, err := p.withExtension(req.GetAttributes(), value, outcome, err)
	p.count("agent", outcome, p.now().Sub(started))
	if err != nil {
		return nil, err
	}
	return &credentialcomposerv1.ComposeAgentX509SVIDResponse{Attributes: attrs}, nil
}

func (p *Plugin) agentClaims(ctx context.Context, rawID string) (*claims.Claims, string, error) {
	s, err := p.current()
	if err != nil {
		return nil, "", err
	}
	id, err := spiffeid.FromString(rawID)
	if err != nil {
		return nil, "", status.Errorf(codes.InvalidArgument, "SPIFFE ID %q: %v", rawID, err)
	}
	fctx, cancel := context.WithTimeout(ctx, s.config.timeout)
	agent, err := s.api.GetAgent(fctx, &agentv1.GetAgentRequest{Id: apiID(id)})
	cancel()
	switch status.Code(err) {
	case codes.OK:
	case codes.NotFound:
		p.log.Debug("Agent not yet stored (first attestation): issued without claims", logSPIFFEID, rawID)
		return nil, outcomeAgentUnknown, nil
	default:
		return p.unreachable(s, "agent X509-SVID", rawID, err)
	}
	n := agentRequirement(agent, s.config.agentTTL)
	node := appraise(claims.SubmodNode, n.selectors)
	node.AgentID, node.AttestedAt = n.agentID, n.attestedAt
	return &claims.Claims{IssuedAt: p.now().UTC(), Verifier: verifier, Node: node}, outcomeComposed, nil
}

// withExtension appends the id-pe-cmw extension with value to attrs
// (unchanged when value is nil), keeping what other composers added.
func (p *Plugin) withExtension(attrs *credentialcomposerv1.X509SVIDAttributes, value []byte, outcome string, err error) (*credentialcomposerv1.X509SVIDAttributes, string, error) {
	if err != nil {
		return nil, outcome, err
	}
	if attrs == nil {
		attrs = &credentialcomposerv1.X509SVIDAttributes{}
	}
	if value == nil {
		return attrs, outcome, nil
	}
	oid := claims.OID.String()
	for _, e := range attrs.GetExtraExtensions() {
		if e.GetOid() == oid {
			return nil, outcomeError, status.Errorf(codes.FailedPrecondition, "another credential composer already added an id-pe-cmw extension (%s)", oid)
		}
	}
	// Not critical (draft-ietf-rats-msg-wrap): a relying party that does
	// not know it can still use the SVID.
	attrs.ExtraExtensions = append(attrs.ExtraExtensions, &credentialcomposerv1.X509Extension{Oid: oid, Value: value})
	return attrs, outcome, nil
}

// ComposeWorkloadJWTSVID implements credentialcomposerv1: it adds the "cmw"
// claim to the claims it was given.
func (p *Plugin) ComposeWorkloadJWTSVID(ctx context.Context, req *credentialcomposerv1.ComposeWorkloadJWTSVIDRequest) (*credentialcomposerv1.ComposeWorkloadJWTSVIDResponse, error) {
	started := p.now()
	attrs, outcome, err := p.jwt(ctx, req)
	p.count("jwt", outcome, p.now().Sub(started))
	if err != nil {
		return nil, err
	}
	return &credentialcomposerv1.ComposeWorkloadJWTSVIDResponse{Attributes: attrs}, nil
}

func (p *Plugin) jwt(ctx context.Context, req *credentialcomposerv1.ComposeWorkloadJWTSVIDRequest) (*credentialcomposerv1.JWTSVIDAttributes, string, error) {
	r, outcome, err := p.workloadRequirement(ctx, "JWT-SVID", req.GetSpiffeId())
	if err != nil {
		return nil, outcome, err
	}
	attrs := req.GetAttributes()
	if attrs == nil {
		attrs = &credentialcomposerv1.JWTSVIDAttributes{}
	}
	if r == nil {
		return attrs, outcome, nil
	}
	if attrs.Claims == nil {
		attrs.Claims = &structpb.Struct{Fields: map[string]*structpb.Value{}}
	}
	if _, ok := attrs.Claims.Fields[claims.JWTClaim]; ok {
		return nil, outcomeError, status.Errorf(codes.FailedPrecondition, "another credential composer already added a %q claim", claims.JWTClaim)
	}
	v, err := r.memo.jwt(r, p.now())
	if err != nil {
		return nil, outcomeError, status.Errorf(codes.Internal, "%v", err)
	}
	lv, err := structpb.NewList(v)
	if err != nil {
		return nil, outcomeError, status.Errorf(codes.Internal, "claim %q: %v", claims.JWTClaim, err)
	}
	if attrs.Claims.Fields == nil {
		attrs.Claims.Fields = map[string]*structpb.Value{}
	}
	attrs.Claims.Fields[claims.JWTClaim] = structpb.NewListValue(lv)
	return attrs, outcome, nil
}

// verifier is the EAR's verifier build: "hwattest <module version>"
// (with the VCS revision when the binary was built from a checkout).
var verifier = func() string {
	v := "hwattest"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	v += " " + bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}()
