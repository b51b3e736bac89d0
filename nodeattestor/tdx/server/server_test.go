package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxtest "github.com/google/go-tdx-guest/testing"
	"github.com/google/go-tdx-guest/testing/testdata"
	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	agentv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/nodeattestor/tdx"
	"github.com/hwattest/hwattest/nodeattestor/tdx/agent"
	"github.com/hwattest/hwattest/nodeattestor/tdx/server"
	"github.com/hwattest/hwattest/pkg/reportdata"
)

const td = "example.org"

// quoteTime is inside the recorded quote's PCK chain and sample collateral
// validity (as go-tdx-guest's tests use it): the test never expires.
var quoteTime = time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)

// recorded is go-tdx-guest's real quote of a Sapphire Rapids TD; the agent
// returns it whatever REPORT_DATA it asks for.
type recorded struct{}

func (recorded) GetRawQuote([64]byte) ([]uint8, error) { return bytes.Clone(testdata.RawQuote), nil }

func recordedReportData(t *testing.T) [reportdata.Size]byte {
	t.Helper()
	q, err := abi.QuoteToProto(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	var rd [reportdata.Size]byte
	copy(rd[:], q.(*pb.QuoteV4).GetTdQuoteBody().GetReportData())
	return rd
}

// replaying makes the server's nonce the first half of the recorded
// REPORT_DATA and the recorded REPORT_DATA the one it expects: the recorded
// quote is then the answer to the server's challenge.
func replaying(t *testing.T) []server.Option {
	rd := recordedReportData(t)
	return []server.Option{
		server.WithNonceSource(bytes.NewReader(rd[:reportdata.NonceSize])),
		server.WithReportData(func([]byte, string, []byte) ([reportdata.Size]byte, error) { return rd, nil }),
		server.WithClock(func() time.Time { return quoteTime }),
	}
}

type plugins struct {
	server *serverv1.NodeAttestorPluginClient
	agent  *agentv1.NodeAttestorPluginClient
}

func serve(t *testing.T, serverHCL, agentHCL string, opts ...server.Option) plugins {
	t.Helper()
	return serveGuest(t, serverHCL, agentHCL, td, recorded{}, nil, opts...)
}

// serveGuest serves both plugins, the agent's quotes coming from guest and
// its core configuration naming agentTD as the trust domain; logger (nil:
// plugintest's) receives the server plugin's logs.
func serveGuest(t *testing.T, serverHCL, agentHCL, agentTD string, guest agent.QuoteProvider, logger hclog.Logger, opts ...server.Option) plugins {
	t.Helper()
	sc, ac := new(serverv1.NodeAttestorPluginClient), new(agentv1.NodeAttestorPluginClient)
	scfg, acfg := new(configv1.ConfigServiceClient), new(configv1.ConfigServiceClient)
	sp, ap := server.New(opts...), agent.New(agent.WithQuoteProvider(guest))
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer: serverv1.NodeAttestorPluginServer(sp), PluginClient: sc,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(sp)}, ServiceClients: []pluginsdk.ServiceClient{scfg},
		Logger: logger,
	})
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer: agentv1.NodeAttestorPluginServer(ap), PluginClient: ac,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(ap)}, ServiceClients: []pluginsdk.ServiceClient{acfg},
	})
	core := &configv1.CoreConfiguration{TrustDomain: td}
	if _, err := scfg.Configure(context.Background(), &configv1.ConfigureRequest{CoreConfiguration: core, HclConfiguration: serverHCL}); err != nil {
		t.Fatalf("configure server: %v", err)
	}
	core = &configv1.CoreConfiguration{TrustDomain: agentTD}
	if _, err := acfg.Configure(context.Background(), &configv1.ConfigureRequest{CoreConfiguration: core, HclConfiguration: agentHCL}); err != nil {
		t.Fatalf("configure agent: %v", err)
	}
	return plugins{server: sc, agent: ac}
}

// attest relays one attestation; edit may change the agent's response.
func (p plugins) attest(edit func(*tdx.Response)) (*serverv1.AgentAttributes, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	as, err := p.agent.AidAttestation(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := p.server.Attest(ctx)
	if err != nil {
		return nil, err
	}
	msg, err := as.Recv()
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: msg.GetPayload()}}); err != nil {
		return nil, err
	}
	resp, err := ss.Recv()
	if err != nil {
		return nil, err
	}
	if err := as.Send(&agentv1.Challenge{Challenge: resp.GetChallenge()}); err != nil {
		return nil, err
	}
	msg, err = as.Recv()
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	answer := msg.GetChallengeResponse()
	if edit != nil {
		var r tdx.Response
		if err := json.Unmarshal(answer, &r); err != nil {
			return nil, err
		}
		edit(&r)
		if answer, err = json.Marshal(r); err != nil {
			return nil, err
		}
	}
	if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_ChallengeResponse{ChallengeResponse: answer}}); err != nil {
		return nil, err
	}
	resp, err = ss.Recv()
	if err != nil {
		return nil, err
	}
	return resp.GetAgentAttributes(), nil
}

const mrtd = "6363b8043668a3ad953278e10389574d326c6749fb78aa810ecd9336923db86f22fc00b8dcd404bc10d5e119d7215cbb"

// TestRecordedQuote: the real quote through both plugins, the server's
// nonce source injected so that the quote's recorded REPORT_DATA is the
// answer to its challenge. The agent ID is the agent key's hash, stable
// across re-attestations while the agent keeps its key.
func TestRecordedQuote(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "tdx-agent-key.pem")
	hcl := fmt.Sprintf(`policy "image" {
  required = true
  mrtds    = [%q]
}`, mrtd)
	ids := map[string]bool{}
	for range 2 {
		attrs, err := serve(t, hcl, fmt.Sprintf("key_path = %q", keyPath), replaying(t)...).attest(nil)
		if err != nil {
			t.Fatal(err)
		}
		ids[attrs.SpiffeId] = true
		for _, want := range []string{"mrtd:" + mrtd, "debug:disabled", "policy:image"} {
			if !slices.Contains(attrs.SelectorValues, want) {
				t.Errorf("selector %s missing: %v", want, attrs.SelectorValues)
			}
		}
		if !attrs.CanReattest || !strings.HasPrefix(attrs.SpiffeId, "spiffe://example.org/spire/agent/tdx/") {
			t.Errorf("%+v", attrs)
		}
	}
	if len(ids) != 1 {
		t.Errorf("one agent key, several IDs: %v", ids)
	}
	b, _ := os.ReadFile(keyPath)
	if len(b) == 0 {
		t.Fatal("key not kept")
	}
	// Another agent key (another TD) is another agent ID.
	attrs, err := serve(t, hcl, "", replaying(t)...).attest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if ids[attrs.SpiffeId] {
		t.Error("two agent keys share an agent ID")
	}
}

// TestRecordedQuoteRefusals: each refusal through the plugin boundary with
// its exact status.
func TestRecordedQuoteRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		hcl  string
		opts []server.Option
		edit func(*tdx.Response)
		code codes.Code
		msg  string
	}{
		{name: "a changed byte", opts: replaying(t), edit: func(r *tdx.Response) { r.Quote[0x30+0x88] ^= 1 }, code: codes.PermissionDenied,
			msg: "tdxquote: quote: unable to verify message digest using quote's signature and ecdsa attestation key"},
		{name: "live nonce: the recorded quote does not bind it", opts: []server.Option{server.WithClock(func() time.Time { return quoteTime })}, code: codes.PermissionDenied,
			msg: "tdxquote: reportdata: the report does not carry this attestation's nonce (replayed or not made for this challenge)"},
		{name: "proof of possession by another key", opts: replaying(t), edit: func(r *tdx.Response) { r.Signature[len(r.Signature)-1] ^= 1 }, code: codes.PermissionDenied,
			msg: "tdx: the agent key's signature over the nonce does not verify"},
		{name: "MRTD not allowed", hcl: `policy "image" {
  required = true
  mrtds    = ["` + strings.Repeat("ab", 48) + `"]
}`, opts: replaying(t), code: codes.PermissionDenied, msg: `policy "image": mrtd ` + mrtd + ` is not allowed`},
		{name: "truncated", opts: replaying(t), edit: func(r *tdx.Response) { r.Quote = r.Quote[:100] }, code: codes.InvalidArgument,
			msg: "tdxquote: quote is 100 bytes, shorter than the 1020 of a TDX quote"},
		{name: "with recorded collateral", hcl: "get_collateral = true",
			opts: append(replaying(t), server.WithCollateralGetter(tdxtest.TestGetter)), code: codes.PermissionDenied,
			msg: "tdxquote: quote: TDX TCB info reported by Intel PCS failed TCB status check: no matching TCB level found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := serve(t, tc.hcl, "", tc.opts...).attest(tc.edit)
			if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("got %v: %s\nwant %v: %s", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// TestAgentIDIsKeyHash: the ID's last segment is the SHA-256 of the key
// the agent presented.
func TestAgentIDIsKeyHash(t *testing.T) {
	keyPath := filepath.Join(t.TempDir(), "k.pem")
	attrs, err := serve(t, "", fmt.Sprintf("key_path = %q", keyPath), replaying(t)...).attest(nil)
	if err != nil {
		t.Fatal(err)
	}
	var keyHash string
	for _, s := range attrs.SelectorValues {
		if h, ok := strings.CutPrefix(s, "key_hash:"); ok {
			keyHash = h
		}
	}
	if !strings.HasSuffix(attrs.SpiffeId, "/"+keyHash) || len(keyHash) != 2*sha256.Size {
		t.Errorf("%s vs key_hash %s", attrs.SpiffeId, keyHash)
	}
	if _, err := hex.DecodeString(keyHash); err != nil {
		t.Error(err)
	}
}
