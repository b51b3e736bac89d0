package server_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	agentv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/snptest"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp/agent"
	"github.com/hwattest/hwattest/nodeattestor/sevsnp/server"
)

const td = "example.org"

// testChain writes a test AMD chain and returns it with the server HCL that
// trusts it (and nothing else).
func testChain(t testing.TB) (*snptest.Chain, string) {
	t.Helper()
	chain, err := snptest.NewChain(time.Now().Add(-time.Hour), snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := chain.Write(dir); err != nil {
		t.Fatal(err)
	}
	return chain, fmt.Sprintf("amd_cert_chains = { Milan = %q }\n", filepath.Join(dir, "cert_chain.pem"))
}

type plugins struct {
	server *serverv1.NodeAttestorPluginClient
	agent  *agentv1.NodeAttestorPluginClient
}

// serve runs both plugins behind the go-plugin boundary, as SPIRE does;
// the agent asks provider for reports and has agentTD as its trust domain.
func serve(t *testing.T, serverHCL string, provider agent.ReportProvider, agentTD string, logger hclog.Logger) plugins {
	t.Helper()
	sc, ac := new(serverv1.NodeAttestorPluginClient), new(agentv1.NodeAttestorPluginClient)
	scfg, acfg := new(configv1.ConfigServiceClient), new(configv1.ConfigServiceClient)
	sp, ap := server.New(), agent.New(agent.WithReportProvider(provider))
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer: serverv1.NodeAttestorPluginServer(sp), PluginClient: sc,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(sp)}, ServiceClients: []pluginsdk.ServiceClient{scfg},
		Logger: logger,
	})
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer: agentv1.NodeAttestorPluginServer(ap), PluginClient: ac,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(ap)}, ServiceClients: []pluginsdk.ServiceClient{acfg},
	})
	ctx := context.Background()
	if _, err := scfg.Configure(ctx, &configv1.ConfigureRequest{CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td}, HclConfiguration: serverHCL}); err != nil {
		t.Fatalf("configure server: %v", err)
	}
	if _, err := acfg.Configure(ctx, &configv1.ConfigureRequest{CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: agentTD}}); err != nil {
		t.Fatalf("configure agent: %v", err)
	}
	return plugins{server: sc, agent: ac}
}

// attest relays one attestation as SPIRE does; edit, when not nil, changes
// the agent's response before the server sees it.
func (p plugins) attest(edit func(response []byte) []byte) (*serverv1.AgentAttributes, []byte, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	as, err := p.agent.AidAttestation(ctx)
	if err != nil {
		return nil, nil, err
	}
	ss, err := p.server.Attest(ctx)
	if err != nil {
		return nil, nil, err
	}
	msg, err := as.Recv()
	if err != nil {
		return nil, nil, fmt.Errorf("agent: %w", err)
	}
	if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: msg.GetPayload()}}); err != nil {
		return nil, nil, err
	}
	var sent []byte
	for {
		resp, err := ss.Recv()
		if err != nil {
			return nil, sent, err
		}
		if attrs := resp.GetAgentAttributes(); attrs != nil {
			return attrs, sent, nil
		}
		if err := as.Send(&agentv1.Challenge{Challenge: resp.GetChallenge()}); err != nil {
			return nil, sent, err
		}
		msg, err := as.Recv()
		if err != nil {
			return nil, sent, fmt.Errorf("agent: %w", err)
		}
		sent = msg.GetChallengeResponse()
		if edit != nil {
			sent = edit(sent)
		}
		if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_ChallengeResponse{ChallengeResponse: sent}}); err != nil {
			return nil, sent, err
		}
	}
}

func TestAttest(t *testing.T) {
	chain, hcl := testChain(t)
	guest := snptest.NewGuest(chain, 0x07)
	hcl += fmt.Sprintf(`
policy "confidential" {
  required = true
  measurements = [%q]
  minimum_tcb = { bootloader = 3, snp = 8, microcode = 115 }
}
policy "no-smt" { forbid_smt = true }
`, hex.EncodeToString(guest.Measurement[:]))
	p := serve(t, hcl, guest, td, nil)
	attrs, _, err := p.attest(nil)
	if err != nil {
		t.Fatal(err)
	}
	wantID := "spiffe://example.org/spire/agent/sev_snp/" + strings.Repeat("07", 32)
	if attrs.SpiffeId != wantID || !attrs.CanReattest {
		t.Errorf("agent %s reattest %v, want %s", attrs.SpiffeId, attrs.CanReattest, wantID)
	}
	m := hex.EncodeToString(guest.Measurement[:])
	want := []string{
		"debug:disabled", "guest_svn:0", "host_data:" + strings.Repeat("00", 32), "measurement:" + m,
		"migration_agent:disallowed", "policy:confidential", "product:Milan", "report_id:" + strings.Repeat("07", 32),
		"signer:vcek", "smt:allowed", "tcb:bootloader:3", "tcb:microcode:115", "tcb:snp:8", "tcb:tee:0", "vmpl:0",
	}
	if !slices.Equal(attrs.SelectorValues, want) {
		t.Errorf("selectors\n got %q\nwant %q", attrs.SelectorValues, want)
	}
}

// TestAgentIDPerVM: one VM keeps its agent ID across re-attestations;
// two VMs on the same chip (same chip ID, same measurement) get two.
func TestAgentIDPerVM(t *testing.T) {
	chain, hcl := testChain(t)
	vm1, vm2 := snptest.NewGuest(chain, 0x01), snptest.NewGuest(chain, 0x02)
	id := func(g *snptest.Guest) string {
		a, _, err := serve(t, hcl, g, td, nil).attest(nil)
		if err != nil {
			t.Fatal(err)
		}
		return a.SpiffeId
	}
	first, again, other := id(vm1), id(vm1), id(vm2)
	if first != again {
		t.Errorf("re-attestation changed the agent ID: %s then %s", first, again)
	}
	if first == other {
		t.Errorf("two VMs share the agent ID %s", first)
	}
}

// TestReportOnlyPolicy: a failed policy that is not required only withholds
// its selector.
func TestReportOnlyPolicy(t *testing.T) {
	chain, hcl := testChain(t)
	guest := snptest.NewGuest(chain, 0x07)
	guest.Policy.Debug = true
	attrs, _, err := serve(t, hcl+`policy "prod" {}`, guest, td, nil).attest(nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(attrs.SelectorValues, "policy:prod") || !slices.Contains(attrs.SelectorValues, "debug:enabled") {
		t.Errorf("selectors %q", attrs.SelectorValues)
	}
}

type providerFunc func([64]byte) ([]byte, error)

func (f providerFunc) GetRawQuote(rd [64]byte) ([]byte, error) { return f(rd) }

// TestRefusals: each refusal through the plugin boundary, with its exact
// gRPC status.
func TestRefusals(t *testing.T) {
	chain, hcl := testChain(t)
	foreign, err := snptest.NewForeignChain(time.Now().Add(-time.Hour), snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	good := snptest.NewGuest(chain, 0x07)
	debug := snptest.NewGuest(chain, 0x07)
	debug.Policy.Debug = true
	// A report captured from an earlier attestation of the same VM.
	_, captured, err := serve(t, hcl, good, td, nil).attest(nil)
	if err != nil {
		t.Fatal(err)
	}
	ownNonce := providerFunc(func(rd [64]byte) ([]byte, error) {
		copy(rd[:32], strings.Repeat("A", 32)) // a nonce of the agent's choosing
		return good.GetRawQuote(rd)
	})
	const nonceErr = "snpreport: reportdata: the report does not carry this attestation's nonce (replayed or not made for this challenge)"
	for _, tc := range []struct {
		name     string
		hcl      string
		provider agent.ReportProvider
		agentTD  string
		edit     func([]byte) []byte
		code     codes.Code
		msg      string
	}{
		{name: "wrong nonce", provider: ownNonce, code: codes.PermissionDenied, msg: nonceErr},
		{name: "replayed report", provider: good, edit: func([]byte) []byte { return captured }, code: codes.PermissionDenied, msg: nonceErr},
		{name: "another trust domain", provider: good, agentTD: "other.example", code: codes.PermissionDenied,
			msg: "snpreport: reportdata: the report binds another trust domain"},
		{name: "debug under a forbidding policy", hcl: `policy "prod" { required = true }`, provider: debug, code: codes.PermissionDenied,
			msg: `policy "prod": debug is enabled in the guest policy (the host can decrypt the VM)`},
		{name: "measurement not allowed", hcl: `policy "prod" {
  required = true
  measurements = ["` + strings.Repeat("ab", 48) + `"]
}`, provider: good, code: codes.PermissionDenied,
			msg: `policy "prod": measurement ` + hex.EncodeToString(good.Measurement[:]) + ` is not allowed`},
		{name: "TCB below minimum", hcl: `policy "prod" {
  required = true
  minimum_tcb = { snp = 9, microcode = 200 }
}`, provider: good, code: codes.PermissionDenied,
			msg: `policy "prod": reported TCB snp 8 is below the minimum 9; reported TCB microcode 115 is below the minimum 200`},
		{name: "untrusted signer", provider: snptest.NewGuest(foreign, 0x07), code: codes.PermissionDenied,
			msg: `snpreport: report signature: VCEK could not be verified by any trusted roots. Last error: error verifying VCEK certificate: x509: certificate signed by unknown authority (possibly because of "crypto/rsa: verification error" while trying to verify candidate authority certificate "SEV-Milan") (true)`},
		{name: "truncated", provider: good, edit: func(b []byte) []byte { return b[:1000] }, code: codes.InvalidArgument,
			msg: "snpreport: evidence is 1000 bytes, shorter than a 1184-byte report"},
		{name: "oversized", provider: good, edit: func(b []byte) []byte { return append(b, make([]byte, 70000)...) }, code: codes.InvalidArgument,
			msg: fmt.Sprintf("snpreport: evidence is %d bytes, more than 65536", len(captured)+70000)},
		{name: "changed byte", provider: good, edit: func(b []byte) []byte { b[0x90] ^= 1; return b }, code: codes.PermissionDenied,
			msg: "snpreport: report signature: report signature verification error: x509: ECDSA verification failure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			agentTD := tc.agentTD
			if agentTD == "" {
				agentTD = td
			}
			_, _, err := serve(t, hcl+tc.hcl, tc.provider, agentTD, nil).attest(tc.edit)
			if st := status.Convert(err); st.Code() != tc.code || st.Message() != tc.msg {
				t.Errorf("got %v: %s\nwant %v: %s", st.Code(), st.Message(), tc.code, tc.msg)
			}
		})
	}
}

// TestNoNonceInLogs: the server's log lines of a success and a refusal
// never hold the nonce (nor REPORT_DATA, which holds it).
func TestNoNonceInLogs(t *testing.T) {
	chain, hcl := testChain(t)
	var nonces []string
	guest := snptest.NewGuest(chain, 0x07)
	provider := providerFunc(func(rd [64]byte) ([]byte, error) {
		nonces = append(nonces, hex.EncodeToString(rd[:32]), hex.EncodeToString(rd[:]))
		return guest.GetRawQuote(rd)
	})
	var buf strings.Builder
	logger := hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace, JSONFormat: true})
	p := serve(t, hcl, provider, td, logger)
	if _, _, err := p.attest(nil); err != nil {
		t.Fatal(err)
	}
	_, _, _ = p.attest(func(b []byte) []byte { b[0x90] ^= 1; return b })
	out := buf.String()
	if !strings.Contains(out, "SEV-SNP attestation succeeded") || !strings.Contains(out, "SEV-SNP attestation refused") {
		t.Fatalf("log lines missing:\n%s", out)
	}
	for _, n := range nonces {
		if strings.Contains(strings.ToLower(out), n) {
			t.Errorf("the log holds a nonce or report data: %s", n)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	sp := server.New()
	resp, err := sp.Validate(context.Background(), &configv1.ValidateRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td},
		HclConfiguration: fmt.Sprintf(`amd_cert_chains = { Rome = "x", Milan = %q }
allow_kds = true
unknown = 1
policy "p" {
  measurements = ["zz"]
  minimum_tcb = { fmc = 1, snp = 300 }
  vmpls = [4]
}`, bad),
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Valid || len(resp.Notes) != 1 {
		t.Fatalf("%+v", resp)
	}
	for _, want := range []string{
		`unknown`,
		`amd_cert_chains: unknown product line "Rome" (want Milan, Genoa, Turin)`,
		`amd_cert_chains: Milan: ` + bad,
		`policy "p": measurements: "zz" is not 96 hex digits`,
		`policy "p": minimum_tcb: unknown component "fmc" (want bootloader, tee, snp, microcode)`,
		`policy "p": minimum_tcb: snp 300 is not 0-255`,
		`policy "p": vmpls: 4 is not 0-3`,
	} {
		if !strings.Contains(resp.Notes[0], want) {
			t.Errorf("notes lack %q:\n%s", want, resp.Notes[0])
		}
	}
}

// TestBadHello: a first message that is not the protocol's hello is
// refused before any nonce is sent.
func TestBadHello(t *testing.T) {
	chain, hcl := testChain(t)
	p := serve(t, hcl, snptest.NewGuest(chain, 1), td, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ss, err := p.server.Attest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: []byte("hwattest sev_snp v2")}}); err != nil {
		t.Fatal(err)
	}
	_, err = ss.Recv()
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != `the agent's first message is not "hwattest sev_snp v1"` {
		t.Errorf("%v", err)
	}
}
