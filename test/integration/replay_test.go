package integration_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	agentv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/agent/v1"
	"github.com/spiffe/spire-api-sdk/proto/spire/api/types"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// Scenario 8: evidence replay. The test plays the agent itself against the
// real server's AttestAgent API (as spire-agent does, with our attester
// library and the node's TPM), records the challenge response of a
// successful attestation, and sends it again in new attestations: with a new
// payload from the same TPM, and with the recorded payload byte for byte.
// Both are refused: the server's challenge is fresh each time.
func TestEvidenceReplayRefused(t *testing.T) {
	t.Parallel()
	n := newNode(t, swtpmtest.Options{})
	server := harness.StartServer(t, harness.ServerConfig{NodeAttestor: n.caConfig()})
	dir := harness.Dir(t)
	client := agentAPI(t, server, dir)
	cfg := attester.Config{EventLogPath: n.logPath, AKPath: filepath.Join(dir, "ak.json")}
	attest := func(payload []byte, answer func(challenge []byte) []byte) (*agentv1.AttestAgentResponse_Result, error) {
		return attestAgent(t, client, payload, answer)
	}

	var recordedPayload, recordedResponse []byte
	n.withTPM(t, func(tpm transport.TPM) {
		s, att, err := attester.Begin(tpm, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if recordedPayload, err = att.Marshal(); err != nil {
			t.Fatal(err)
		}
		res, err := attest(recordedPayload, func(challenge []byte) []byte {
			ch, err := tpmquote.DecodeChallenge(challenge)
			if err != nil {
				t.Fatal(err)
			}
			r, err := s.Respond(ch)
			if err != nil {
				t.Fatal(err)
			}
			if recordedResponse, err = r.Marshal(); err != nil {
				t.Fatal(err)
			}
			return recordedResponse
		})
		if err != nil {
			t.Fatalf("honest attestation: %v", err)
		}
		svid, err := x509.ParseCertificate(res.GetSvid().GetCertChain()[0])
		if err != nil || svid.URIs[0].String() != n.agentID() {
			t.Fatalf("agent SVID %v, %v", svid, err)
		}
	})
	replay := func([]byte) []byte { return recordedResponse }

	t.Run("recorded response to a new challenge for the same TPM", func(t *testing.T) {
		n.withTPM(t, func(tpm transport.TPM) {
			s, att, err := attester.Begin(tpm, cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			payload, _ := att.Marshal()
			_, err = attest(payload, replay)
			wantRefused(t, err)
		})
	})
	t.Run("recorded payload and response", func(t *testing.T) {
		_, err := attest(recordedPayload, replay)
		wantRefused(t, err)
	})
	server.WaitLogCount(t, "reason=activation_failed", 2, 10*time.Second)
}

// agentAPI connects to the server's agent API as an agent bootstrapped with
// the server's bundle does.
func agentAPI(t *testing.T, server *harness.Server, dir string) agentv1.AgentClient {
	t.Helper()
	bundle, err := x509bundle.Load(spiffeid.RequireTrustDomainFromString(harness.TrustDomain), server.BundlePath(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	serverID := spiffeid.RequireFromString("spiffe://" + harness.TrustDomain + "/spire/server")
	conn, err := grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", server.Port),
		grpc.WithTransportCredentials(credentials.NewTLS(tlsconfig.TLSClientConfig(bundle, tlsconfig.AuthorizeID(serverID)))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return agentv1.NewAgentClient(conn)
}

// attestAgent runs one AttestAgent exchange: payload, then answer(challenge).
func attestAgent(t *testing.T, client agentv1.AgentClient, payload []byte, answer func(challenge []byte) []byte) (*agentv1.AttestAgentResponse_Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream, err := client.AttestAgent(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_Params_{Params: &agentv1.AttestAgentRequest_Params{
		Data:   &types.AttestationData{Type: "tpm", Payload: payload},
		Params: &agentv1.AgentX509SVIDParams{Csr: csr(t)},
	}}}); err != nil {
		return nil, err
	}
	resp, err := stream.Recv()
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&agentv1.AttestAgentRequest{Step: &agentv1.AttestAgentRequest_ChallengeResponse{
		ChallengeResponse: answer(resp.GetChallenge()),
	}}); err != nil {
		return nil, err
	}
	resp, err = stream.Recv()
	if err != nil {
		return nil, err
	}
	return resp.GetResult(), nil
}

func wantRefused(t *testing.T, err error) {
	t.Helper()
	if status.Code(err) != codes.PermissionDenied {
		t.Fatalf("replayed evidence: err = %v, want PermissionDenied", err)
	}
}

// csr is a certificate request for a fresh key; SPIRE takes only the key.
func csr(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
