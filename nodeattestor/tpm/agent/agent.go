package agent

import (
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	nodeattestorv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/internal/plugincfg"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

var _ nodeattestorv1.NodeAttestorServer = (*Plugin)(nil)

// Config is the agent plugin's HCL configuration.
type Config struct {
	// TPM is the TPM address: /dev/tpmrm0 (default), /dev/tpm0,
	// swtpm://host:port or swtpm+unix:///path.
	TPM string `hcl:"tpm"`
	// EKAlgorithm is "rsa" (default, spire-tpm-plugin compatible) or "ecc".
	EKAlgorithm string `hcl:"ek_algorithm"`
	// AKAlgorithm is "ecc" (default, ECDSA P-256) or "rsa".
	AKAlgorithm string `hcl:"ak_algorithm"`
	// AKPath persists the AK (no secret in it) and reuses it.
	AKPath string `hcl:"ak_path"`
	// EventLogPath is the boot event log ("-" sends none).
	EventLogPath string `hcl:"event_log_path"`
	// IMALogPath is the IMA log; empty sends none.
	IMALogPath string `hcl:"ima_log_path"`
	// PCRBanks narrows the banks offered for quoting (default: every
	// active bank of the TPM).
	PCRBanks []string `hcl:"pcr_banks"`

	banks []tpmquote.HashAlg
}

func buildConfig(text string) (*Config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	for _, kv := range [][2]string{{"ek_algorithm", c.EKAlgorithm}, {"ak_algorithm", c.AKAlgorithm}} {
		if v := kv[1]; v != "" && v != string(attester.RSA) && v != string(attester.ECC) {
			errs = append(errs, fmt.Errorf("%s %q: want rsa or ecc", kv[0], v))
		}
	}
	for _, name := range c.PCRBanks {
		alg, err := tpmquote.ParseHashAlg(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("pcr_banks: %w", err))
			continue
		}
		c.banks = append(c.banks, alg)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &c, nil
}

// Plugin is the agent-side TPM node attestor.
type Plugin struct {
	nodeattestorv1.UnsafeNodeAttestorServer
	configv1.UnsafeConfigServer

	plugincfg.Holder[Config]

	log hclog.Logger
}

// New returns an unconfigured plugin.
func New() *Plugin {
	p := &Plugin{log: hclog.NewNullLogger()}
	p.Build = func(hcl, _ string, _ bool) (*Config, error) { return buildConfig(hcl) }
	return p
}

// SetLogger implements pluginsdk.NeedsLogger.
func (p *Plugin) SetLogger(l hclog.Logger) { p.log = l }

// AidAttestation opens the TPM, sends the attestation, answers the challenge
// and closes the TPM again (flushing what it created).
func (p *Plugin) AidAttestation(stream nodeattestorv1.NodeAttestor_AidAttestationServer) error {
	c, err := p.Current()
	if err != nil {
		return err
	}
	tpm, err := attester.Open(c.TPM)
	if err != nil {
		return status.Errorf(codes.Unavailable, "%v", err)
	}
	defer tpm.Close()
	session, att, err := attester.Begin(tpm, attester.Config{
		EKAlgorithm:  attester.KeyAlgorithm(c.EKAlgorithm),
		AKAlgorithm:  attester.KeyAlgorithm(c.AKAlgorithm),
		AKPath:       c.AKPath,
		EventLogPath: c.EventLogPath,
		IMALogPath:   c.IMALogPath,
		PCRBanks:     c.banks,
	})
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	defer session.Close()
	payload, err := att.Marshal()
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	if err := stream.Send(&nodeattestorv1.PayloadOrChallengeResponse{Data: &nodeattestorv1.PayloadOrChallengeResponse_Payload{Payload: payload}}); err != nil {
		return err
	}
	msg, err := stream.Recv()
	if err != nil {
		return err
	}
	ch, err := tpmquote.DecodeChallenge(msg.GetChallenge())
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "%v", err)
	}
	resp, err := session.Respond(ch)
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	b, err := resp.Marshal()
	if err != nil {
		return status.Errorf(codes.Internal, "%v", err)
	}
	return stream.Send(&nodeattestorv1.PayloadOrChallengeResponse{Data: &nodeattestorv1.PayloadOrChallengeResponse_ChallengeResponse{ChallengeResponse: b}})
}
