package server_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/hashicorp/go-hclog"
	"github.com/spiffe/spire-plugin-sdk/pluginsdk"
	"github.com/spiffe/spire-plugin-sdk/plugintest"
	metricsv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/hostservice/common/metrics/v1"
	agentv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/agent/nodeattestor/v1"
	serverv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/plugin/server/nodeattestor/v1"
	configv1 "github.com/spiffe/spire-plugin-sdk/proto/spire/service/common/config/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/internal/pluginmetrics/metricstest"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/nodeattestor/tpm/agent"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

const td = "example.org"

func servePlugins(t *testing.T, serverHCL, agentHCL string) (*serverv1.NodeAttestorPluginClient, *agentv1.NodeAttestorPluginClient) {
	t.Helper()
	return servePluginsLogged(t, serverHCL, agentHCL, nil)
}

// servePluginsLogged is servePlugins with both plugins logging to logger
// (nil: no logs).
func servePluginsLogged(t *testing.T, serverHCL, agentHCL string, logger hclog.Logger) (*serverv1.NodeAttestorPluginClient, *agentv1.NodeAttestorPluginClient) {
	t.Helper()
	sc, ac := new(serverv1.NodeAttestorPluginClient), new(agentv1.NodeAttestorPluginClient)
	scfg, acfg := new(configv1.ConfigServiceClient), new(configv1.ConfigServiceClient)
	sp, ap := server.New(), agent.New()
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:   serverv1.NodeAttestorPluginServer(sp),
		PluginClient:   sc,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(sp)},
		ServiceClients: []pluginsdk.ServiceClient{scfg},
		Logger:         logger,
	})
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:   agentv1.NodeAttestorPluginServer(ap),
		PluginClient:   ac,
		ServiceServers: []pluginsdk.ServiceServer{configv1.ConfigServiceServer(ap)},
		ServiceClients: []pluginsdk.ServiceClient{acfg},
		Logger:         logger,
	})
	ctx := context.Background()
	core := &configv1.CoreConfiguration{TrustDomain: td}
	if _, err := scfg.Configure(ctx, &configv1.ConfigureRequest{CoreConfiguration: core, HclConfiguration: serverHCL}); err != nil {
		t.Fatalf("configure server: %v", err)
	}
	if _, err := acfg.Configure(ctx, &configv1.ConfigureRequest{CoreConfiguration: core, HclConfiguration: agentHCL}); err != nil {
		t.Fatalf("configure agent: %v", err)
	}
	return sc, ac
}

// attest relays the agent plugin's messages to the server plugin as SPIRE
// does, and returns the server's agent attributes.
func attest(t *testing.T, sc *serverv1.NodeAttestorPluginClient, ac *agentv1.NodeAttestorPluginClient) (*serverv1.AgentAttributes, error) {
	t.Helper()
	return attestB(sc, ac)
}

// attestB is attest without a test, for benchmarks.
func attestB(sc *serverv1.NodeAttestorPluginClient, ac *agentv1.NodeAttestorPluginClient) (*serverv1.AgentAttributes, error) {
	return relayAttestation(sc, ac, nil)
}

// relayAttestation relays one attestation; onResponse, when not nil, sees
// each challenge and the agent's response to it and returns the response the
// server gets.
func relayAttestation(sc *serverv1.NodeAttestorPluginClient, ac *agentv1.NodeAttestorPluginClient, onResponse func(challenge, response []byte) []byte) (*serverv1.AgentAttributes, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	as, err := ac.AidAttestation(ctx)
	if err != nil {
		return nil, err
	}
	ss, err := sc.Attest(ctx)
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
	for {
		resp, err := ss.Recv()
		if err != nil {
			return nil, err
		}
		if attrs := resp.GetAgentAttributes(); attrs != nil {
			return attrs, nil
		}
		if err := as.Send(&agentv1.Challenge{Challenge: resp.GetChallenge()}); err != nil {
			return nil, err
		}
		msg, err := as.Recv()
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		answer := msg.GetChallengeResponse()
		if onResponse != nil {
			answer = onResponse(resp.GetChallenge(), answer)
		}
		if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_ChallengeResponse{ChallengeResponse: answer}}); err != nil {
			return nil, err
		}
	}
}

func TestAttestSWTPM(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	serverHCL := fmt.Sprintf(`ek_ca_paths = [%q, %q]
expose_pcrs = { sha256 = [7] }`, sw.RootCAPath, sw.IssuerCAPath)
	agentHCL := fmt.Sprintf(`tpm = %q
event_log_path = "-"`, sw.Addr)
	sc, ac := servePlugins(t, serverHCL, agentHCL)
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatalf("attest: %v", err)
	}
	prefix := "spiffe://" + td + "/spire/agent/tpm/"
	if !strings.HasPrefix(attrs.SpiffeId, prefix) || len(attrs.SpiffeId) != len(prefix)+64 {
		t.Fatalf("agent ID %q", attrs.SpiffeId)
	}
	hash := strings.TrimPrefix(attrs.SpiffeId, prefix)
	want := map[string]bool{
		"pub_hash:" + hash:                        true,
		"ek_issuer:CN=swtpm-localca":              true,
		"manufacturer:id:00001014":                true,
		"pcr:sha256:7:" + strings.Repeat("0", 64): true,
	}
	for _, s := range attrs.SelectorValues {
		delete(want, s)
	}
	if len(want) != 0 {
		t.Errorf("selectors %q lack %v", attrs.SelectorValues, want)
	}
	if !attrs.CanReattest {
		t.Error("can_reattest is false")
	}
	// The hash is the EK certificate's key, as spire-tpm-plugin computes it.
	if got := certKeyHash(t, sw); got != hash {
		t.Errorf("agent ID hash %s, EK certificate key hash %s", hash, got)
	}

	t.Run("denied EK", func(t *testing.T) {
		sc, ac := servePlugins(t, serverHCL+fmt.Sprintf("\ndeny_ek_hashes = [%q]", hash), agentHCL)
		_, err := attest(t, sc, ac)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "EK "+hash+" is denied") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("bank the TPM lacks is not quoted", func(t *testing.T) {
		// swtpm here has only sha256; a fleet-wide config also asks for sha1.
		sc, ac := servePlugins(t, serverHCL+"\npcrs = { sha1 = [0, 7], sha256 = [0, 7] }", agentHCL)
		attrs, err := attest(t, sc, ac)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(attrs.SelectorValues, " "); !strings.Contains(got, "pcr:sha256:7:") {
			t.Errorf("selectors %q", got)
		}
		sc, ac = servePlugins(t, serverHCL+"\npcrs = { sha1 = [0, 7], sha256 = [0, 7] }", agentHCL+"\npcr_banks = [\"sha1\"]")
		if _, err := attest(t, sc, ac); status.Code(err) != codes.Internal || !strings.Contains(err.Error(), "no active PCR bank to offer: active [sha256], configured [sha1]") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("untrusted CA", func(t *testing.T) {
		other := swtpmtest.Start(t, swtpmtest.Options{})
		sc, ac := servePlugins(t, fmt.Sprintf(`ek_ca_paths = [%q, %q]`, other.RootCAPath, other.IssuerCAPath), agentHCL)
		_, err := attest(t, sc, ac)
		if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestMalformedPayloads(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeSelfSigned(t, ca)
	sc, _ := servePlugins(t, fmt.Sprintf(`ek_ca_paths = [%q]`, ca), `tpm = "swtpm://127.0.0.1:1"`)
	for _, tc := range []struct {
		name    string
		payload []byte
		code    codes.Code
	}{
		{"empty", nil, codes.InvalidArgument},
		{"truncated", []byte(`{"version":1,"ek_public":"AAE`), codes.InvalidArgument},
		{"oversized", make([]byte, 64<<10+1), codes.InvalidArgument},
		{"wrong version", []byte(`{"version":9}`), codes.InvalidArgument},
		{"wrong shape", []byte(`{"version":"1"}`), codes.InvalidArgument},
		{"not json", []byte{0xff, 0x00}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ss, err := sc.Attest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: tc.payload}}); err != nil {
				t.Fatal(err)
			}
			_, err = ss.Recv()
			if status.Code(err) != tc.code {
				t.Fatalf("err = %v, want code %v", err, tc.code)
			}
		})
	}
}

func TestConfigErrorsTogether(t *testing.T) {
	p := server.New()
	_, err := p.Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td},
		HclConfiguration: `require = "maybe"
bogus = 1
deny_ek_hashes = ["xyz"]
deny_ek_certificates = ["CN=x", "/1", "CN=x/-1", "CN=x/0xab", "CN=x/"]
ek_algorithms = ["rsa", "ECC", "dsa", "ecc-p224"]
expose_boot_components = [9]
pcrs = { md5 = [0] }`,
	})
	if status.Code(err) != codes.InvalidArgument {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{`unknown configuration key "bogus"`, `require "maybe": want certificate, hash, either or both`,
		`deny_ek_hashes: "xyz" is not a hex SHA-256`, `pcrs: unknown bank "md5"`,
		`expose_boot_components: PCR 9 is not one of 0-7`,
		`deny_ek_certificates: "CN=x": want "<issuer DN>/<serial in hex>"`, `deny_ek_certificates: "/1": empty issuer`,
		`deny_ek_certificates: "CN=x/-1": serial "-1" is not hex`, `deny_ek_certificates: "CN=x/0xab": serial "0xab" is not hex`,
		`deny_ek_certificates: "CN=x/": serial "" is not hex`,
		`ek_algorithms: "ECC" is not rsa, ecc or one of rsa-2048, rsa-3072, rsa-4096, ecc-p256, ecc-p384, ecc-p521`,
		`ek_algorithms: "dsa" is not rsa`, `ek_algorithms: "ecc-p224" is not rsa`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// readAttestation reads the attester's first message from the TPM.
func readAttestation(t *testing.T, sw *swtpmtest.TPM) *tpmquote.Attestation {
	t.Helper()
	tpm, err := attester.Open(sw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	s, att, err := attester.Begin(tpm, attester.Config{EventLogPath: "-"})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	return att
}

// certKeyHash reads the EK certificate from the TPM and hashes its key the
// way spiffe/spire-tpm-plugin does: hex SHA-256 of the PKIX DER public key.
func certKeyHash(t *testing.T, sw *swtpmtest.TPM) string {
	t.Helper()
	att := readAttestation(t, sw)
	cert, err := x509.ParseCertificate(att.EKCertificate)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(cert.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

// writeSelfSigned writes a self-signed CA certificate.
func writeSelfSigned(t *testing.T, path string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestMalformedChallengeResponses sends a genuine payload, then a bad answer.
func TestMalformedChallengeResponses(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	sc, ac := servePlugins(t, fmt.Sprintf(`ek_ca_paths = [%q, %q]`, sw.RootCAPath, sw.IssuerCAPath),
		fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr))
	for _, tc := range []struct {
		name string
		resp []byte
		code codes.Code
		msg  string
	}{
		{"empty", nil, codes.InvalidArgument, "missing challenge response"},
		{"truncated", []byte(`{"version":1,"secret":"AA`), codes.InvalidArgument, "tpmquote: response: unexpected EOF"},
		// gRPC's own 4 MiB message limit refuses it before the plugin sees it.
		{"oversized", make([]byte, 4<<20+1), codes.ResourceExhausted, "received message larger than max"},
		{"wrong version", []byte(`{"version":2}`), codes.InvalidArgument, "tpmquote: response: unsupported version 2 (want 1)"},
		{"wrong shape", []byte(`{"version":1,"pcrs":[1]}`), codes.InvalidArgument, "tpmquote: response: json: cannot unmarshal array"},
		{"wrong secret", []byte(`{"version":1,"secret":"AAAA","quote":"AAAA","quote_signature":"AAAA","pcrs":{"sha256":{"0":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}}`), codes.PermissionDenied, "credential activation failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			as, err := ac.AidAttestation(ctx)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := as.Recv()
			if err != nil {
				t.Fatal(err)
			}
			cancel() // the agent side is not needed past its payload
			ss, err := sc.Attest(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: msg.GetPayload()}}); err != nil {
				t.Fatal(err)
			}
			if r, err := ss.Recv(); err != nil || len(r.GetChallenge()) == 0 {
				t.Fatalf("challenge: %v", err)
			}
			if err := ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_ChallengeResponse{ChallengeResponse: tc.resp}}); err != nil {
				t.Fatal(err)
			}
			_, err = ss.Recv()
			if status.Code(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %v %q", err, tc.code, tc.msg)
			}
		})
	}
}

func TestAgentTPMUnreachable(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeSelfSigned(t, ca)
	_, ac := servePlugins(t, fmt.Sprintf(`ek_ca_paths = [%q]`, ca), `tpm = "swtpm://127.0.0.1:1"`)
	as, err := ac.AidAttestation(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, err = as.Recv()
	if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "attester: connect to swtpm at 127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
}

// TestHashAllowlistReload: a TPM without an EK certificate is refused until
// its hash is added to the allowlist file, then accepted without a restart.
func TestHashAllowlistReload(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{NoEKCert: true})
	list := filepath.Join(t.TempDir(), "ek-hashes")
	if err := os.WriteFile(list, []byte("# enrolled TPMs\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sc, ac := servePlugins(t, fmt.Sprintf("ek_hash_paths = [%q]\nrequire = \"hash\"", list),
		fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr))
	_, err := attest(t, sc, ac)
	if status.Code(err) != codes.PermissionDenied || !strings.Contains(err.Error(), "is not on the allowlist") {
		t.Fatalf("err = %v", err)
	}
	hash := noCertEKHash(t, sw)
	if err := os.WriteFile(list, []byte(hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatalf("listed TPM refused: %v", err)
	}
	if attrs.SpiffeId != "spiffe://"+td+"/spire/agent/tpm/"+hash {
		t.Errorf("agent ID %s", attrs.SpiffeId)
	}
}

func noCertEKHash(t *testing.T, sw *swtpmtest.TPM) string {
	t.Helper()
	att := readAttestation(t, sw)
	if len(att.EKCertificate) != 0 {
		t.Fatal("the TPM has an EK certificate")
	}
	ek, err := tpmquote.VerifyEK(nil, att.EKPublic, tpmquote.EKPolicy{Require: tpmquote.RequireHash, Listed: func(string) bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	return ek.Hash
}

func TestMetrics(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	fm := &metricstest.Fake{}
	sc, scfg := new(serverv1.NodeAttestorPluginClient), new(configv1.ConfigServiceClient)
	sp := server.New()
	plugintest.ServeInBackground(t, plugintest.Config{
		PluginServer:       serverv1.NodeAttestorPluginServer(sp),
		PluginClient:       sc,
		ServiceServers:     []pluginsdk.ServiceServer{configv1.ConfigServiceServer(sp)},
		ServiceClients:     []pluginsdk.ServiceClient{scfg},
		HostServiceServers: []pluginsdk.ServiceServer{metricsv1.MetricsServiceServer(fm)},
	})
	hcl := fmt.Sprintf(`ek_ca_paths = [%q, %q]`, sw.RootCAPath, sw.IssuerCAPath)
	if _, err := scfg.Configure(context.Background(), &configv1.ConfigureRequest{CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td}, HclConfiguration: hcl}); err != nil {
		t.Fatal(err)
	}
	_, ac := servePlugins(t, hcl, fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr))
	if _, err := attest(t, sc, ac); err != nil {
		t.Fatal(err)
	}
	ss, err := sc.Attest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ss.Send(&serverv1.AttestRequest{Request: &serverv1.AttestRequest_Payload{Payload: []byte("{")}})
	ss.Recv()
	// The plugin records after it answered: wait for both.
	counters, samples := fm.Wait(2, 2)
	want := []string{"tpm.attestation outcome=refused reason=malformed", "tpm.attestation outcome=success reason="}
	if fmt.Sprint(counters) != fmt.Sprint(want) || samples != 2 {
		t.Errorf("counters %q, samples %d", counters, samples)
	}
}

// TestPolicies: a satisfied optional policy becomes a selector, a failed
// optional one is withheld, a failed required one refuses the node.
func TestPolicies(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	zero := strings.Repeat("0", 64)
	base := fmt.Sprintf("ek_ca_paths = [%q, %q]\n", sw.RootCAPath, sw.IssuerCAPath)
	agentHCL := fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", sw.Addr)
	optional := base + fmt.Sprintf(`
policy "genuine" {
  ek_certificate = true
}
policy "pcr7-reset" {
  pcrs = ["sha256:7:%s"]
}
policy "secureboot" {
  secure_boot = true
}
`, zero)
	sc, ac := servePlugins(t, optional, agentHCL)
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(attrs.SelectorValues, " ")
	for _, want := range []string{"policy:genuine", "policy:pcr7-reset"} {
		if !strings.Contains(got, want) {
			t.Errorf("selectors %q lack %s", got, want)
		}
	}
	if strings.Contains(got, "policy:secureboot") {
		t.Errorf("failed optional policy gave a selector: %q", got)
	}

	required := base + `
policy "secureboot" {
  required    = true
  secure_boot = true
}
`
	sc, ac = servePlugins(t, required, agentHCL)
	_, err = attest(t, sc, ac)
	want := `policy "secureboot": secure boot required, but no boot event log was verified`
	if status.Code(err) != codes.PermissionDenied || status.Convert(err).Message() != want {
		t.Fatalf("err = %v, want PermissionDenied %q", err, want)
	}
}

func TestPolicyConfigErrors(t *testing.T) {
	p := server.New()
	_, err := p.Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td},
		HclConfiguration: `bundled_ek_cas = true
policy "a" {
  pcrs = ["sha256:9:00", "md5:1:00", "sha256:7"]
  boot_components = ["xyz"]
  colour = "blue"
}`,
	})
	for _, want := range []string{
		`unknown configuration key "policy.a.colour"`,
		`policy "a": pcrs "sha256:9:00": 1 bytes, want 32`,
		`policy "a": pcrs "md5:1:00": tpmquote: unknown hash algorithm "md5"`,
		`policy "a": pcrs "sha256:7": want <bank>:<index>:<hex>`,
		`policy "a": boot_components: "xyz" is not a hex digest`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

// TestAttestSimulator runs the plugins against the reference TPM simulator
// with an EK certificate from a test CA, RSA and ECC EKs.
func TestAttestSimulator(t *testing.T) {
	addr, caPath, _ := certifiedSimulator(t, "sim EK CA")
	for _, ek := range []string{"rsa", "ecc"} {
		t.Run(ek, func(t *testing.T) {
			sc, ac := servePlugins(t, fmt.Sprintf("ek_ca_paths = [%q]\nek_algorithms = [\"rsa\", \"ecc\"]", caPath),
				fmt.Sprintf("tpm = %q\nek_algorithm = %q\nevent_log_path = \"-\"", addr, ek))
			attrs, err := attest(t, sc, ac)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(attrs.SelectorValues, " ")
			for _, want := range []string{"ek_issuer:CN=sim EK CA,O=hwattest test", "manufacturer:id:494E5443", "model:PTT"} {
				if !strings.Contains(got, want) {
					t.Errorf("selectors %q lack %s", got, want)
				}
			}
		})
	}
}

// TestAgentIDCompatibleWithSpireTPMPlugin: for the seed-0 reference simulator,
// the agent ID carries the EK hash spiffe/spire-tpm-plugin's own test expects
// (cmd/get_tpm_pubhash/get_tpm_pubhash_test.go there).
func TestAgentIDCompatibleWithSpireTPMPlugin(t *testing.T) {
	const hash = "1b5bbe2e96054f7bc34ebe7ba9a4a9eac5611c6879285ceff6094fa556af485c"
	addr := tpmtest.ServeSimulator(t, tpmtest.SimulatorWithSeed(t, 0))
	list := filepath.Join(t.TempDir(), "hashes")
	if err := os.WriteFile(list, []byte(hash+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sc, ac := servePlugins(t, fmt.Sprintf("ek_hash_paths = [%q]\nrequire = \"hash\"", list),
		fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"", addr))
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	if want := "spiffe://" + td + "/spire/agent/tpm/" + hash; attrs.SpiffeId != want {
		t.Errorf("agent ID %s, want %s", attrs.SpiffeId, want)
	}
	if len(attrs.SelectorValues) == 0 || attrs.SelectorValues[0] != "pub_hash:"+hash {
		t.Errorf("selectors %q", attrs.SelectorValues)
	}
}

// certifiedSimulator serves the reference simulator over TCP with RSA and ECC
// EK certificates from a new test CA, whose PEM path it returns.
func certifiedSimulator(t *testing.T, caName string) (addr, caPath string, ca *tpmtest.CA) {
	t.Helper()
	sim := tpmtest.Simulator(t)
	ca = tpmtest.NewCA(t, caName)
	tpmtest.CertifyEKs(t, sim, ca, "id:494E5443", "PTT", "id:00020008")
	return tpmtest.ServeSimulator(t, sim), ca.WritePEM(t), ca
}

func TestBadTrustDomainRefusedAtConfigure(t *testing.T) {
	_, err := server.New().Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: "Not A Domain"},
		HclConfiguration:  `bundled_ek_cas = true`,
	})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), `trust domain "Not A Domain"`) {
		t.Fatalf("err = %v", err)
	}
}

// TestIMAAllowlistFiles: an IMA log replayed into swtpm's PCR 10 and sent by
// the agent; a policy whose allowlist file (sha256sum format) lists every
// measured file is satisfied, one that misses a file is not.
func TestIMAAllowlistFiles(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{})
	tpm, err := attester.Open(sw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var log, sums strings.Builder
	aggLine, aggData := tpmtest.IMABootAggregate() // a kernel's IMA logs it first
	tpmtest.ExtendIMA(t, tpm, aggData, false, tpm2.TPMAlgSHA256)
	log.WriteString(aggLine)
	for i, path := range []string{"/usr/bin/a", "/usr/bin/b"} {
		content := []byte(path)
		line, td := tpmtest.IMANG(path, content)
		tpmtest.ExtendIMA(t, tpm, td, false, tpm2.TPMAlgSHA256)
		log.WriteString(line)
		if i == 0 {
			fmt.Fprintf(&sums, "# made with sha256sum\n%x  %s\n", sha256.Sum256(content), path)
		}
	}
	tpm.Close()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	imaLog := write("ascii_runtime_measurements", log.String())
	partial := write("partial.sha256sum", sums.String())
	full := write("full.sha256sum", sums.String()+fmt.Sprintf("%x  /usr/bin/b\n", sha256.Sum256([]byte("/usr/bin/b"))))
	serverHCL := fmt.Sprintf(`ek_ca_paths = [%q, %q]
pcrs = { sha256 = [0, 7, 10] }
policy "runtime" {
  ima_allowlist_paths = [%q]
}
policy "runtime-partial" {
  ima_allowlist_paths = [%q]
}`, sw.RootCAPath, sw.IssuerCAPath, full, partial)
	agentHCL := fmt.Sprintf("tpm = %q\nevent_log_path = \"-\"\nima_log_path = %q", sw.Addr, imaLog)
	sc, ac := servePlugins(t, serverHCL, agentHCL)
	attrs, err := attest(t, sc, ac)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(attrs.SelectorValues, " ")
	if !strings.Contains(got, "policy:runtime") || strings.Contains(got, "policy:runtime-partial") {
		t.Errorf("selectors %q: want policy:runtime and not policy:runtime-partial", got)
	}

	bad := write("bad.sha256sum", "not-a-digest  /usr/bin/a\n")
	p := server.New()
	_, err = p.Configure(context.Background(), &configv1.ConfigureRequest{
		CoreConfiguration: &configv1.CoreConfiguration{TrustDomain: td},
		HclConfiguration:  fmt.Sprintf("bundled_ek_cas = true\npolicy \"x\" {\n  ima_allowlist_paths = [%q]\n}", bad),
	})
	if want := fmt.Sprintf(`policy "x": ima_allowlist_paths: %s line 1: "not-a-digest" is not a hex digest`, bad); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("err = %v, want %q", err, want)
	}
}
