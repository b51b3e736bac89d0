package server

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/google/go-tdx-guest/verify/trust"
	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/internal/nodeevents"
	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/nodeattestor/tdx"
	"github.com/hwattest/hwattest/pkg/namedpolicy"
	"github.com/hwattest/hwattest/pkg/reportdata"
	"github.com/hwattest/hwattest/pkg/tdxquote"
)

var _ nodeattestorv1.NodeAttestorServer = (*Plugin)(nil)

// maxRootFileSize bounds intel_root_path.
const maxRootFileSize = 64 << 10

// Config is the server plugin's HCL configuration.
type Config struct {
	// IntelRootPath is a PEM file of the PCK chains' trusted root(s).
	// Empty: the Intel SGX Root CA embedded in pkg/tdxquote.
	IntelRootPath string `hcl:"intel_root_path"`
	// GetCollateral fetches TCB info, QE identity and CRLs from Intel's
	// PCS for every quote and checks the TCB status and revocation. Off by
	// default: the server needs no network and checks signatures only.
	GetCollateral bool `hcl:"get_collateral"`
	// Policies are named rule sets evaluated on every attestation.
	Policies map[string]tdxquote.PolicyConfig `hcl:"policy"`
	// EventWebhooks receive a CloudEvent when a node is attested, refused,
	// or loses or gains a policy (internal/nodeevents).
	EventWebhooks map[string]nodeevents.WebhookConfig `hcl:"event_webhook"`
}

type config struct {
	trustDomain spiffeid.TrustDomain
	roots       *x509.CertPool
	collateral  bool
	policies    []*tdxquote.Policy
	webhooks    []*nodeevents.Webhook
}

func buildConfig(text, trustDomain string) (*config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		errs = append(errs, fmt.Errorf("trust domain %q: %w", trustDomain, err))
	}
	var roots *x509.CertPool
	if c.IntelRootPath != "" {
		if roots, err = readRoots(c.IntelRootPath); err != nil {
			errs = append(errs, fmt.Errorf("intel_root_path: %w", err))
		}
	}
	policies, policyErrs := namedpolicy.Compile[tdxquote.PolicyConfig, *tdxquote.Policy](c.Policies)
	errs = append(errs, policyErrs...)
	webhooks, hookErrs := nodeevents.Compile(c.EventWebhooks)
	errs = append(errs, hookErrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &config{trustDomain: td, roots: roots, collateral: c.GetCollateral, policies: policies, webhooks: webhooks}, nil
}

func readRoots(path string) (*x509.CertPool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxRootFileSize {
		return nil, fmt.Errorf("%s is %d bytes, more than %d", path, fi.Size(), maxRootFileSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no certificate", path)
	}
	return pool, nil
}

// ReportDataFunc computes the REPORT_DATA a quote must carry for a nonce,
// the trust domain and the agent key.
type ReportDataFunc func(nonce []byte, trustDomain string, key []byte) ([reportdata.Size]byte, error)

// Plugin is the server-side TDX node attestor.
type Plugin struct {
	nodeattestorv1.UnsafeNodeAttestorServer
	configv1.UnsafeConfigServer

	plugincfg.Holder[config]

	events     *nodeevents.Events
	log        hclog.Logger
	nonces     io.Reader
	reportData ReportDataFunc
	now        func() time.Time
	getter     trust.HTTPSGetter
}

// Option configures a Plugin. The options exist for tests that replay a
// recorded quote (whose REPORT_DATA was fixed when it was made); the plugin
// binary sets none.
type Option func(*Plugin)

// WithNonceSource replaces crypto/rand as the source of nonces.
func WithNonceSource(r io.Reader) Option { return func(p *Plugin) { p.nonces = r } }

// WithReportData replaces reportdata.NewWithKey as the expected REPORT_DATA
// (then compared exactly). A recorded quote does not bind the agent key, so
// with this option the agent ID rests on the proof of possession alone:
// tests only.
func WithReportData(f ReportDataFunc) Option { return func(p *Plugin) { p.reportData = f } }

// WithClock sets the time certificates are checked at.
func WithClock(now func() time.Time) Option { return func(p *Plugin) { p.now = now } }

// WithCollateralGetter replaces Intel PCS as the source of collateral
// when get_collateral is on (air-gapped servers, tests).
func WithCollateralGetter(g trust.HTTPSGetter) Option { return func(p *Plugin) { p.getter = g } }

// New returns an unconfigured plugin.
func New(opts ...Option) *Plugin {
	p := &Plugin{log: hclog.NewNullLogger(), nonces: rand.Reader, now: time.Now}
	p.events = nodeevents.NewEvents(tdx.PluginName)
	p.Build = func(hcl, td string, _ bool) (*config, error) { return buildConfig(hcl, td) }
	p.Loaded = func(c *config) {
		p.events.Configure(c.trustDomain.String(), c.webhooks, p.log, func(string, string) {})
	}
	for _, o := range opts {
		o(p)
	}
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
	var o nodeevents.Outcome
	res, agentID, err := p.attest(stream, c, &o)
	fields := []any{"duration", time.Since(start).String()}
	if res != nil {
		fields = append(fields, "mrtd", res.MRTDHex())
	}
	if err != nil {
		reason := "policy"
		if !o.Evaluated {
			reason = strings.ToLower(status.Code(err).String())
		}
		p.log.Warn("TDX attestation refused", append(fields, "reason", reason, "error", err)...)
		p.events.Publish(&o, reason, err)
		return err
	}
	p.log.Info("TDX attestation succeeded", append(fields, "agent_id", agentID)...)
	p.events.Publish(&o, "", nil)
	return nil
}

func (p *Plugin) attest(stream nodeattestorv1.NodeAttestor_AttestServer, c *config, o *nodeevents.Outcome) (*tdxquote.Result, string, error) {
	req, err := stream.Recv()
	if err != nil {
		return nil, "", err
	}
	var hello tdx.Hello
	if err := tdx.Decode(req.GetPayload(), tdx.MaxHelloSize, &hello); err != nil {
		return nil, "", status.Errorf(codes.InvalidArgument, "%v", err)
	}
	if hello.Version != 1 {
		return nil, "", status.Errorf(codes.InvalidArgument, "tdx: protocol version %d, want 1", hello.Version)
	}
	key, err := tdx.ParseKey(hello.Key)
	if err != nil {
		return nil, "", status.Errorf(codes.InvalidArgument, "%v", err)
	}
	nonce := make([]byte, reportdata.NonceSize)
	if _, err := io.ReadFull(p.nonces, nonce); err != nil {
		return nil, "", status.Errorf(codes.Internal, "nonce: %v", err)
	}
	if err := stream.Send(&nodeattestorv1.AttestResponse{Response: &nodeattestorv1.AttestResponse_Challenge{Challenge: nonce}}); err != nil {
		return nil, "", err
	}
	req, err = stream.Recv()
	if err != nil {
		return nil, "", err
	}
	var resp tdx.Response
	if err := tdx.Decode(req.GetChallengeResponse(), tdx.MaxResponseSize, &resp); err != nil {
		return nil, "", status.Errorf(codes.InvalidArgument, "%v", err)
	}
	td := c.trustDomain.Name()
	check := func(got []byte) error { return reportdata.CheckWithKey(got, nonce, td, hello.Key) }
	if p.reportData != nil { // replaced to replay a recorded quote
		want, err := p.reportData(nonce, td, hello.Key)
		if err != nil {
			return nil, "", status.Errorf(codes.Internal, "%v", err)
		}
		check = func(got []byte) error {
			if subtle.ConstantTimeCompare(got, want[:]) != 1 {
				return reportdata.ErrNonce
			}
			return nil
		}
	}
	opts := tdxquote.Options{Roots: c.roots, Now: p.now}
	if c.collateral {
		opts.Collateral = p.getter
		if opts.Collateral == nil {
			opts.Collateral = trust.DefaultHTTPSGetter()
		}
	}
	res, err := tdxquote.NewVerifier(opts).Verify(stream.Context(), resp.Quote, check)
	if err != nil {
		code := codes.PermissionDenied
		if tdxquote.ReasonOf(err) == tdxquote.ReasonMalformed {
			code = codes.InvalidArgument
		}
		return nil, "", status.Error(code, err.Error())
	}
	if err := tdx.VerifyProof(key, nonce, td, resp.Signature); err != nil {
		return res, "", status.Error(codes.PermissionDenied, err.Error())
	}
	if id, err := tdx.AgentID(c.trustDomain, hello.Key); err == nil {
		o.AgentID = id.String()
	}
	satisfied, failed := tdxquote.EvaluatePolicies(c.policies, res)
	o.Evaluated, o.Policies = true, satisfied
	if len(failed) > 0 {
		return res, "", status.Error(codes.PermissionDenied, strings.Join(failed, "; "))
	}
	id, err := tdx.AgentID(c.trustDomain, hello.Key)
	if err != nil {
		return res, "", status.Errorf(codes.Internal, "agent ID: %v", err)
	}
	sum := sha256.Sum256(hello.Key)
	err = stream.Send(&nodeattestorv1.AttestResponse{Response: &nodeattestorv1.AttestResponse_AgentAttributes{
		AgentAttributes: &nodeattestorv1.AgentAttributes{
			SpiffeId:       id.String(),
			SelectorValues: tdx.Selectors(hex.EncodeToString(sum[:]), res, satisfied),
			CanReattest:    true,
		},
	}})
	return res, id.String(), err
}
