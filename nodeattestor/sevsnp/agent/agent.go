package agent

import (
	"bytes"
	"errors"

	"github.com/google/go-sev-guest/client"
	"github.com/hashicorp/go-hclog"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp"
	"github.com/hwattest/hwattest/pkg/reportdata"
)

var _ nodeattestorv1.NodeAttestorServer = (*Plugin)(nil)

// ReportProvider returns an attestation report holding reportData, followed
// by the certificate table of the extended report (go-sev-guest's
// client.QuoteProvider satisfies it).
type ReportProvider interface {
	GetRawQuote(reportData [64]byte) ([]byte, error)
}

// Config is the agent plugin's HCL configuration. It has no keys: the
// guest device is found the way go-sev-guest's client finds it.
type Config struct{}

type config struct {
	trustDomain string
}

func buildConfig(text, trustDomain string) (*config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	if trustDomain == "" {
		errs = append(errs, errors.New("no trust domain in the core configuration"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &config{trustDomain: trustDomain}, nil
}

// Plugin is the agent-side SEV-SNP node attestor.
type Plugin struct {
	nodeattestorv1.UnsafeNodeAttestorServer
	configv1.UnsafeConfigServer

	plugincfg.Holder[config]

	log      hclog.Logger
	provider ReportProvider // nil: go-sev-guest's client, found per attestation
}

// Option configures a Plugin.
type Option func(*Plugin)

// WithReportProvider makes the plugin ask p for reports instead of the
// guest device (tests, and guests with their own report path).
func WithReportProvider(p ReportProvider) Option { return func(pl *Plugin) { pl.provider = p } }

// New returns an unconfigured plugin.
func New(opts ...Option) *Plugin {
	p := &Plugin{log: hclog.NewNullLogger()}
	p.Build = func(hcl, td string, _ bool) (*config, error) { return buildConfig(hcl, td) }
	for _, o := range opts {
		o(p)
	}
	return p
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// AidAttestation sends Hello, and answers the server's nonce with a report
// binding it and the trust domain.
func (p *Plugin) AidAttestation(stream nodeattestorv1.NodeAttestor_AidAttestationServer) error {
	c, err := p.Current()
	if err != nil {
		return err
	}
	provider, err := p.reportProvider()
	if err != nil {
		return status.Errorf(codes.Unavailable, "SEV-SNP guest: %v", err)
	}
	if err := stream.Send(&nodeattestorv1.PayloadOrChallengeResponse{Data: &nodeattestorv1.PayloadOrChallengeResponse_Payload{Payload: bytes.Clone(sevsnp.Hello)}}); err != nil {
		return err
	}
	msg, err := stream.Recv()
	if err != nil {
		return err
	}
	nonce := msg.GetChallenge()
	if len(nonce) != reportdata.NonceSize {
		return status.Errorf(codes.InvalidArgument, "challenge is %d bytes, want a %d-byte nonce", len(nonce), reportdata.NonceSize)
	}
	rd, err := reportdata.New(nonce, c.trustDomain)
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	evidence, err := provider.GetRawQuote(rd)
	if err != nil {
		return status.Errorf(codes.Unavailable, "SEV-SNP report: %v", err)
	}
	return stream.Send(&nodeattestorv1.PayloadOrChallengeResponse{Data: &nodeattestorv1.PayloadOrChallengeResponse_ChallengeResponse{ChallengeResponse: evidence}})
}

func (p *Plugin) reportProvider() (ReportProvider, error) {
	if p.provider != nil {
		return p.provider, nil
	}
	qp, err := client.GetQuoteProvider()
	if err != nil {
		return nil, err
	}
	if !qp.IsSupported() {
		return nil, errors.New("neither configfs-tsm nor /dev/sev-guest is available")
	}
	return qp, nil
}
