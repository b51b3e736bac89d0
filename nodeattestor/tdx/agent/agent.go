package agent

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/google/go-tdx-guest/client"
	"github.com/hashicorp/go-hclog"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/nodeattestor/tdx"
	"github.com/hwattest/hwattest/pkg/reportdata"
)

var _ nodeattestorv1.NodeAttestorServer = (*Plugin)(nil)

// QuoteProvider returns a TD quote holding reportData (go-tdx-guest's
// client.QuoteProvider satisfies it).
type QuoteProvider interface {
	GetRawQuote(reportData [64]byte) ([]uint8, error)
}

// Config is the agent plugin's HCL configuration.
type Config struct {
	// KeyPath keeps the agent key (PEM, created with mode 0600 when
	// missing), so the agent ID survives agent restarts. Empty: a key in
	// memory, a new agent ID at every agent start. Keep it on storage that
	// lives exactly as long as the TD should keep its identity.
	KeyPath string `hcl:"key_path"`
}

type config struct {
	trustDomain string
	key         *ecdsa.PrivateKey
	keyDER      []byte
}

func buildConfig(text, trustDomain string, loadKey bool) (*config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	if trustDomain == "" {
		errs = append(errs, errors.New("no trust domain in the core configuration"))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := &config{trustDomain: trustDomain}
	if !loadKey {
		return out, nil
	}
	key, err := loadOrCreateKey(c.KeyPath)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	out.key, out.keyDER = key, der
	return out, nil
}

func loadOrCreateKey(path string) (*ecdsa.PrivateKey, error) {
	if path != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			block, _ := pem.Decode(b)
			if block == nil {
				return nil, fmt.Errorf("key_path %s: no PEM block", path)
			}
			k, err := x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("key_path %s: %w", path, err)
			}
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("key_path %s: not a P-256 key", path)
			}
			return k, nil
		case !errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("key_path: %w", err)
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	if path != "" {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, fmt.Errorf("key_path: %w", err)
		}
	}
	return k, nil
}

// Plugin is the agent-side TDX node attestor.
type Plugin struct {
	nodeattestorv1.UnsafeNodeAttestorServer
	configv1.UnsafeConfigServer

	plugincfg.Holder[config]

	log      hclog.Logger
	provider QuoteProvider
}

// Option configures a Plugin.
type Option func(*Plugin)

// WithQuoteProvider makes the plugin ask p for quotes instead of the guest.
func WithQuoteProvider(p QuoteProvider) Option { return func(pl *Plugin) { pl.provider = p } }

// New returns an unconfigured plugin.
func New(opts ...Option) *Plugin {
	p := &Plugin{log: hclog.NewNullLogger()}
	p.Build = func(hcl, td string, configure bool) (*config, error) { return buildConfig(hcl, td, configure) }
	for _, o := range opts {
		o(p)
	}
	return p
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// AidAttestation sends the key, then the quote and the proof of possession.
func (p *Plugin) AidAttestation(stream nodeattestorv1.NodeAttestor_AidAttestationServer) error {
	c, err := p.Current()
	if err != nil {
		return err
	}
	provider := p.provider
	if provider == nil {
		qp, err := client.GetQuoteProvider()
		if err == nil {
			err = qp.IsSupported()
		}
		if err != nil {
			return status.Errorf(codes.Unavailable, "TDX guest: %v", err)
		}
		provider = qp
	}
	hello, err := json.Marshal(tdx.Hello{Version: 1, Key: c.keyDER})
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	if err := stream.Send(&nodeattestorv1.PayloadOrChallengeResponse{Data: &nodeattestorv1.PayloadOrChallengeResponse_Payload{Payload: hello}}); err != nil {
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
	rd, err := reportdata.NewWithKey(nonce, c.trustDomain, c.keyDER)
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	quote, err := provider.GetRawQuote(rd)
	if err != nil {
		return status.Errorf(codes.Unavailable, "TDX quote: %v", err)
	}
	d := sha256.Sum256(tdx.ProofMessage(nonce, c.trustDomain))
	sig, err := ecdsa.SignASN1(rand.Reader, c.key, d[:])
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	resp, err := json.Marshal(tdx.Response{Quote: quote, Signature: sig})
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	return stream.Send(&nodeattestorv1.PayloadOrChallengeResponse{Data: &nodeattestorv1.PayloadOrChallengeResponse_ChallengeResponse{ChallengeResponse: resp}})
}
