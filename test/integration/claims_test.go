package integration_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/workloadapi"
	svidv1 "github.com/spiffe/spire-api-sdk/proto/spire/api/server/svid/v1"
	"github.com/veraison/cmw"
	"github.com/veraison/ear"

	"github.com/hwattest/hwattest/internal/containertest"
	"github.com/hwattest/hwattest/internal/spireapi"
	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/claims"
	"github.com/hwattest/hwattest/test/integration/harness"
)

// idPeCMW is the CMW X.509 extension's OID (draft-ietf-rats-msg-wrap),
// written out here: these tests read SVIDs as an outside relying party would.
const idPeCMW = "1.3.6.1.5.5.7.1.35"

// composerBlock is the attestation composer's plugin block for a server
// whose API socket is socket.
// It refreshes every second, so that a test sees a node's new selectors
// soon.
func composerBlock(t *testing.T, socket, extra string) string {
	t.Helper()
	return composerBlockWith(t, socket, `      refresh_interval   = "1s"
      max_age            = "2s"
      agent_ttl          = "`+agentTTL+`"
`+extra)
}

// composerBlockWith is the composer's block with data after the socket.
func composerBlockWith(t *testing.T, socket, data string) string {
	t.Helper()
	p := harness.Plugins(t)["credentialcomposer-attestation"]
	return fmt.Sprintf(`
  CredentialComposer "attestation" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {
      server_socket_path = %q
%s
    }
  }
`, p.Path, p.Checksum, socket, data)
}

// exeBlock is the exe workload attestor's plugin block.
func exeBlock(t *testing.T) string {
	t.Helper()
	p := harness.Plugins(t)["workloadattestor-exe"]
	return fmt.Sprintf(`
  WorkloadAttestor "exe" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {}
  }
`, p.Path, p.Checksum)
}

// selfSHA256 is the hex SHA-256 of the test binary: the exe:sha256 selector
// of this process, which is the workload.
func selfSHA256(t *testing.T) string {
	t.Helper()
	path, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return sha256File(t, path)
}

// outsideEAR decodes the id-pe-cmw extension of cert with veraison/cmw and
// veraison/ear only, as a relying party that knows nothing of hwattest would,
// and returns the CMW's media type and the EAR.
func outsideEAR(t *testing.T, cert *x509.Certificate) (string, *ear.AttestationResult, []byte) {
	t.Helper()
	var found []pkix.Extension
	for _, e := range cert.Extensions {
		if e.Id.String() == idPeCMW {
			found = append(found, e)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d id-pe-cmw extensions in the SVID, want 1", len(found))
	}
	if found[0].Critical {
		t.Error("id-pe-cmw is critical")
	}
	w, err := cmw.DecodeX509Extension(found[0])
	if err != nil {
		t.Fatal(err)
	}
	return outsideRecord(t, w)
}

func outsideRecord(t *testing.T, w *cmw.CMW) (string, *ear.AttestationResult, []byte) {
	t.Helper()
	mt, err := w.GetMonadType()
	if err != nil {
		t.Fatal(err)
	}
	ind, _ := w.GetMonadIndicator()
	if !ind.Has(cmw.AttestationResults) {
		t.Errorf("CMW indicator %v, want attestation results", ind)
	}
	val, err := w.GetMonadValue()
	if err != nil {
		t.Fatal(err)
	}
	var r ear.AttestationResult
	if err := r.UnmarshalJSON(val); err != nil {
		t.Fatalf("EAR: %v\n%s", err, val)
	}
	return mt, &r, val
}

// evidenceSelectors returns a submod's annotated evidence selectors.
func evidenceSelectors(t *testing.T, r *ear.AttestationResult, submod string) []string {
	t.Helper()
	a, ok := r.Submods[submod]
	if !ok {
		t.Fatalf("no %q submod", submod)
	}
	if a.VeraisonAnnotatedEvidence == nil {
		t.Fatalf("submod %q: no annotated evidence", submod)
	}
	raw, _ := (*a.VeraisonAnnotatedEvidence)["selectors"].([]any)
	var out []string
	for _, s := range raw {
		out = append(out, s.(string))
	}
	return out
}

// mintX509 has the server mint an X509-SVID for spiffeID through its API
// (SPIRE runs the credential composers for it as for any workload SVID).
func mintX509(ctx context.Context, socket, spiffeID string) (*x509.Certificate, error) {
	c, err := spireapi.Dial(socket)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(spiffeID)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{URIs: []*url.URL{u}}, key)
	if err != nil {
		return nil, err
	}
	resp, err := svidv1.NewSVIDClient(c.Conn()).MintX509SVID(ctx, &svidv1.MintX509SVIDRequest{Csr: csr})
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(resp.GetSvid().GetCertChain()[0])
}

func mustMintX509(t *testing.T, socket, spiffeID string) *x509.Certificate {
	t.Helper()
	cert, err := mintX509(t.Context(), socket, spiffeID)
	if err != nil {
		t.Fatalf("mint X509-SVID: %v", err)
	}
	return cert
}

// TestClaimsInSVIDs: through real SPIRE (server with our tpm attestor and
// composer, agent with our tpm and exe attestors, swtpm with a replayed
// secure boot log), the workload's X509-SVID and JWT-SVID carry an EAR that
// an outside relying party decodes with veraison/cmw and veraison/ear, and
// that openssl names by OID; pkg/claims' authorizer admits it on the
// node's policy, secure boot and attestation time.
func TestClaimsInSVIDs(t *testing.T) {
	t.Parallel()
	n := newNode(t, swtpmtest.Options{})
	dir := harness.Dir(t)
	socket := filepath.Join(dir, "api.sock")
	server := harness.StartServer(t, harness.ServerConfig{
		Dir:      dir,
		AgentTTL: agentTTL,
		NodeAttestor: n.caConfig() + fmt.Sprintf(`
policy "level3" {
  ek_certificate = true
  secure_boot    = true
  pcrs           = ["sha256:7:%x"]
}`, n.pcr(t, 7)),
		ExtraPlugins: composerBlock(t, socket, ""),
	})
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig(), ExtraPlugins: exeBlock(t)})
	id := "spiffe://" + harness.TrustDomain + "/claims-workload"
	hash := selfSHA256(t)
	server.CreateEntry(t, n.agentID(), id, "exe:sha256:"+hash, fmt.Sprintf("unix:uid:%d", os.Getuid()))
	x, jwt := fetchSVIDs(t, agent, id)
	leaf := x.Certificates[0]

	t.Run("X509-SVID, read with veraison/cmw and veraison/ear", func(t *testing.T) {
		mt, r, val := outsideEAR(t, leaf)
		var indented bytes.Buffer
		_ = json.Indent(&indented, val, "", "  ")
		t.Logf("media type %s\nEAR (indented):\n%s", mt, indented.String())
		if mt != `application/eat-ucs+json; eat_profile="tag:github.com,2023:veraison/ear"` {
			t.Errorf("media type %q", mt)
		}
		if *r.Profile != ear.EatProfile || !strings.HasPrefix(*r.VerifierID.Build, "hwattest ") {
			t.Errorf("profile %q verifier %q", *r.Profile, *r.VerifierID.Build)
		}
		if age := time.Since(time.Unix(*r.IssuedAt, 0)); age < -time.Minute || age > 5*time.Minute {
			t.Errorf("iat %d, %s ago", *r.IssuedAt, age)
		}
		wl := evidenceSelectors(t, r, "workload")
		if !slices.Equal(wl, []string{"exe:sha256:" + hash, fmt.Sprintf("unix:uid:%d", os.Getuid())}) {
			t.Errorf("workload selectors %v", wl)
		}
		node := evidenceSelectors(t, r, "node")
		for _, want := range []string{"tpm:policy:level3", "tpm:secureboot:enabled", "tpm:pub_hash:" + n.ekHash} {
			if !slices.Contains(node, want) {
				t.Errorf("node selectors %v lack %s", node, want)
			}
		}
		ns, ws := r.Submods["node"], r.Submods["workload"]
		if *ns.Status != ear.TrustTierAffirming || *ws.Status != ear.TrustTierAffirming {
			t.Errorf("status node %s workload %s", ns.Status, ws.Status)
		}
		tv := ns.TrustVector
		if tv.InstanceIdentity != ear.TrustworthyInstanceClaim || tv.Hardware != ear.GenuineHardwareClaim ||
			tv.Configuration != ear.ApprovedConfigClaim || tv.Executables != ear.ApprovedBootClaim {
			t.Errorf("node trustworthiness vector %+v", tv)
		}
		if ws.TrustVector.Executables != ear.ApprovedRuntimeClaim {
			t.Errorf("workload trustworthiness vector %+v", ws.TrustVector)
		}
		ev := *ns.VeraisonAnnotatedEvidence
		if ev["agent-id"] != n.agentID() {
			t.Errorf("agent-id %v, want %s", ev["agent-id"], n.agentID())
		}
		if at, ok := ev["attested-at"].(float64); !ok || time.Since(time.Unix(int64(at), 0)) > time.Minute {
			t.Errorf("attested-at %v", ev["attested-at"])
		}
	})

	t.Run("openssl names the extension", func(t *testing.T) {
		pemPath := harness.WriteFile(t, harness.Dir(t), "svid.pem", pemOf(leaf))
		out, err := exec.Command("openssl", "x509", "-in", pemPath, "-noout", "-text").CombinedOutput()
		if err != nil {
			t.Fatalf("openssl: %v\n%s", err, out)
		}
		i := strings.Index(string(out), idPeCMW+":")
		if i < 0 {
			t.Fatalf("openssl does not show %s:\n%s", idPeCMW, out)
		}
		t.Logf("openssl x509 -text, from the extension on:\n%.600s", string(out[i:]))
	})

	t.Run("JWT-SVID, read with veraison/cmw and veraison/ear", func(t *testing.T) {
		raw, ok := jwt.Claims["cmw"]
		if !ok {
			t.Fatalf("no cmw claim in %v", jwt.Claims)
		}
		b, _ := json.Marshal(raw)
		var w cmw.CMW
		if err := w.UnmarshalJSON(b); err != nil {
			t.Fatal(err)
		}
		t.Logf("JWT-SVID claim cmw: %.200s...", b)
		_, r, _ := outsideRecord(t, &w)
		if wl := evidenceSelectors(t, r, "workload"); !slices.Contains(wl, "exe:sha256:"+hash) {
			t.Errorf("workload selectors %v", wl)
		}
		// The rest of the token is SPIRE's.
		if jwt.ID.String() != id || len(jwt.Audience) != 1 {
			t.Errorf("JWT-SVID %s %v", jwt.ID, jwt.Audience)
		}
	})

	t.Run("pkg/claims requirements", func(t *testing.T) {
		c, err := claims.FromX509SVID(x)
		if err != nil {
			t.Fatal(err)
		}
		if err := claims.Check(c, time.Now(),
			claims.RequireStatus(ear.TrustTierAffirming),
			claims.RequireNodePolicy("level3"),
			claims.RequireSecureBoot(),
			claims.RequireSelector(claims.SubmodWorkload, "exe:sha256:"+hash),
			claims.RequireIssuedWithin(5*time.Minute),
			claims.RequireNodeAttestedWithin(time.Minute),
		); err != nil {
			t.Fatal(err)
		}
		if err := claims.Check(c, time.Now(), claims.RequireImageDigest("sha256:"+strings.Repeat("0", 64))); err == nil {
			t.Fatal("an exe workload passed an image digest requirement")
		}
		jc, err := claims.FromJWTSVID(jwt)
		if err != nil {
			t.Fatal(err)
		}
		if err := claims.Check(jc, time.Now(), claims.RequireNodePolicy("level3")); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("JWT-SVID through pkg/claims' HTTP middleware", func(t *testing.T) {
		bundles, err := workloadapi.FetchJWTBundles(t.Context(), workloadapi.WithAddr("unix://"+agent.Socket))
		if err != nil {
			t.Fatal(err)
		}
		h := claims.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, _ := claims.FromContext(r.Context())
			fmt.Fprint(w, c.Node.AgentID)
		}), bundles, []string{"hwattest-test"}, spiffeid.MatchID(jwt.ID), claims.RequireNodePolicy("level3"), claims.RequireSecureBoot())
		for _, tc := range []struct {
			name, token string
			code        int
		}{{"its own token", jwt.Marshal(), http.StatusOK}, {"no token", "", http.StatusUnauthorized}} {
			req := httptest.NewRequest("GET", "/", nil)
			if tc.token != "" {
				req.Header.Set("Authorization", "Bearer "+tc.token)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || tc.code == http.StatusOK && rec.Body.String() != n.agentID() {
				t.Errorf("%s: %d %q", tc.name, rec.Code, rec.Body.String())
			}
		}
	})

	t.Run("a workload under a node alias", func(t *testing.T) {
		alias := "spiffe://" + harness.TrustDomain + "/node/level3"
		server.CreateEntry(t, "spiffe://"+harness.TrustDomain+"/spire/server", alias, "tpm:policy:level3", "tpm:secureboot:enabled")
		wl := "spiffe://" + harness.TrustDomain + "/alias-workload"
		server.CreateEntry(t, alias, wl, "unix:uid:0")
		c, err := claims.FromCertificate(mustMintX509(t, socket, wl))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(c.Node.Selectors, []string{"tpm:policy:level3", "tpm:secureboot:enabled"}) || c.Node.AgentID != "" || !c.Node.AttestedAt.IsZero() {
			t.Errorf("node claims under an alias: %+v", c.Node)
		}
	})

	t.Run("the agent's own SVID", func(t *testing.T) {
		// The agent's first SVID has no claims (no node record yet); the
		// one from its first re-attestation claims the attestation before.
		agent.WaitLog(t, reattested, 40*time.Second)
		// SPIRE's agent stores its SVID as PEM certificates in base64.
		var data struct {
			SVID [][]byte `json:"svid"`
		}
		if err := harness.Eventually(30*time.Second, func() error {
			b, err := os.ReadFile(filepath.Join(agent.Dir, "data", "agent-data.json"))
			if err != nil {
				return err
			}
			if err := json.Unmarshal(b, &data); err != nil || len(data.SVID) == 0 {
				return fmt.Errorf("agent data: %v", err)
			}
			block, _ := pem.Decode(data.SVID[0])
			if block == nil {
				return harness.Permanent(fmt.Errorf("agent SVID: no PEM certificate"))
			}
			cert, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return harness.Permanent(err)
			}
			c, err := claims.FromCertificate(cert)
			if err != nil {
				return err
			}
			if c.Workload != nil || c.Node.AgentID != n.agentID() || !c.Node.HasSelector("tpm:policy:level3") || c.Node.AttestedAt.IsZero() {
				return harness.Permanent(fmt.Errorf("agent SVID claims %+v %+v", c.Node, c.Workload))
			}
			t.Logf("agent SVID: node claims attested at %s, %d selectors", c.Node.AttestedAt, len(c.Node.Selectors))
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("an ID without entries gets no claims", func(t *testing.T) {
		cert := mustMintX509(t, socket, "spiffe://"+harness.TrustDomain+"/unregistered")
		for _, e := range cert.Extensions {
			if e.Id.String() == idPeCMW {
				t.Fatal("claims in the SVID of an ID without entries")
			}
		}
	})
}

// TestClaimsAfterDrift: a node satisfies policy "level3" (PCR 7 pinned, not
// required); its workload's SVID claims it. PCR 7 is extended in the TPM;
// the node re-attests without the policy, and the next SVID minted for the
// workload no longer claims it (the composer's refresh picked up the new
// selectors), while it still claims the node's TPM identity.
func TestClaimsAfterDrift(t *testing.T) {
	t.Parallel()
	n := newNode(t, swtpmtest.Options{})
	dir := harness.Dir(t)
	socket := filepath.Join(dir, "api.sock")
	server := harness.StartServer(t, harness.ServerConfig{
		Dir:      dir,
		AgentTTL: agentTTL,
		NodeAttestor: n.caConfig() + fmt.Sprintf(`
policy "level3" {
  pcrs = ["sha256:7:%x"]
}`, n.pcr(t, 7)),
		ExtraPlugins: composerBlock(t, socket, ""),
	})
	// No boot log: with one, the extension below would fail the log replay
	// and the node would not attest at all.
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfigLog("-")})
	id := "spiffe://" + harness.TrustDomain + "/drift-workload"
	server.CreateEntry(t, n.agentID(), id, fmt.Sprintf("unix:uid:%d", os.Getuid()))
	x, _ := fetchSVIDs(t, agent, id)
	c, err := claims.FromX509SVID(x)
	if err != nil {
		t.Fatal(err)
	}
	if err := claims.Check(c, time.Now(), claims.RequireNodePolicy("level3")); err != nil {
		t.Fatalf("before the drift: %v", err)
	}

	before := agent.LogCount(reattested)
	sum := sha256.Sum256([]byte("an unexpected boot component"))
	n.withTPM(t, func(tpm transport.TPM) { tpmtest.ExtendPCR(t, tpm, tpm2.TPMAlgSHA256, 7, sum[:]) })
	agent.WaitLogCount(t, reattested, before+1, 40*time.Second)

	var last *claims.Claims
	if err := harness.Eventually(15*time.Second, func() error {
		cert, err := mintX509(t.Context(), socket, id)
		if err != nil {
			return err
		}
		last, err = claims.FromCertificate(cert)
		if err != nil {
			return err
		}
		if last.Node.HasSelector("tpm:policy:level3") {
			return fmt.Errorf("the SVID still claims tpm:policy:level3: %v", last.Node.Selectors)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !last.Node.HasSelector("tpm:pub_hash:"+n.ekHash) || last.Node.AgentID != n.agentID() {
		t.Errorf("after the drift: %+v", last.Node)
	}
	t.Logf("after the drift the node claims %v", last.Node.Selectors)
}

// TestClaimsAPIDown: the composer cannot reach the SPIRE server API (a
// socket nothing listens on). By default the server refuses to issue
// (Unavailable, from the composer); with fail_open it issues without
// claims.
func TestClaimsAPIDown(t *testing.T) {
	t.Parallel()
	n := newNode(t, swtpmtest.Options{})
	id := "spiffe://" + harness.TrustDomain + "/down-workload"
	for _, tc := range []struct {
		name, extra string
	}{{"fail closed", ""}, {"fail open", "      fail_open = true"}} {
		t.Run(tc.name, func(t *testing.T) {
			dir := harness.Dir(t)
			server := harness.StartServer(t, harness.ServerConfig{
				Dir:          dir,
				NodeAttestor: n.caConfig(),
				ExtraPlugins: composerBlock(t, filepath.Join(dir, "nothing-listens.sock"), tc.extra),
			})
			server.CreateEntry(t, n.agentID(), id, "unix:uid:0")
			cert, err := mintX509(t.Context(), server.Socket, id)
			if tc.extra == "" {
				if err == nil {
					t.Fatal("an SVID was issued while the composer could not read the entries")
				}
				if !strings.Contains(err.Error(), "SPIRE server API did not answer, refusing to issue without attestation claims") {
					t.Fatalf("error %v", err)
				}
				server.WaitLog(t, "refusing the SVID", 5*time.Second)
				t.Logf("refused: %v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := claims.FromCertificate(cert); err == nil || !strings.Contains(err.Error(), "no attestation claims") {
				t.Fatalf("fail open: %v", err)
			}
			server.WaitLog(t, "issuing without attestation claims (fail_open)", 5*time.Second)
		})
	}
}

// TestClaimsContainer: a container run under a private containerd, from an
// image pulled from a registry, registered by its repository digest, gets
// an X509-SVID through real SPIRE whose claims name that digest, with the
// executables and file-system components affirmed; pkg/claims' authorizer
// admits it for that digest and refuses it for another.
func TestClaimsContainer(t *testing.T) {
	harness.SPIRE(t)
	ctrd := containertest.StartContainerd(t)
	reg := containertest.StartRegistry(t)
	img := workloadImage(t, "claims")
	ref := reg.Push(t, img, "claims:v1")
	ctrd.Pull(t, "k8s.io", ref)

	n := newNode(t, swtpmtest.Options{})
	dir := harness.Dir(t)
	server := harness.StartServer(t, harness.ServerConfig{Dir: dir, NodeAttestor: n.caConfig(),
		ExtraPlugins: composerBlock(t, filepath.Join(dir, "api.sock"), "")})
	ctr := harness.Plugins(t)["workloadattestor-container"]
	agent := harness.StartAgent(t, harness.AgentConfig{Server: server, NodeAttestor: n.agentConfig(), ExtraPlugins: fmt.Sprintf(`
  WorkloadAttestor "container" {
    plugin_cmd      = %q
    plugin_checksum = %q
    plugin_data {
      runtime "containerd" {
        address = %q
      }
    }
  }
`, ctr.Path, ctr.Checksum, ctrd.Socket)})
	id := "spiffe://" + harness.TrustDomain + "/claims-container"
	server.CreateEntry(t, n.agentID(), id, "container:image_digest:"+img.Digest)

	out := harness.Dir(t)
	cid := randomHex(t)
	ctrd.Run(t, containertest.RunOptions{
		Namespace: "k8s.io", Image: ref, ID: cid,
		Binds: map[string]string{filepath.Dir(agent.Socket): "/spire", out: "/out"},
	})
	waitSVID(t, out, id)
	var leaf *x509.Certificate
	if err := harness.Eventually(10*time.Second, func() error {
		b, err := os.ReadFile(filepath.Join(out, "svid.pem"))
		if err != nil {
			return err
		}
		block, _ := pem.Decode(b)
		if block == nil {
			return fmt.Errorf("no PEM in svid.pem")
		}
		leaf, err = x509.ParseCertificate(block.Bytes)
		return err
	}); err != nil {
		t.Fatal(err)
	}

	_, r, _ := outsideEAR(t, leaf)
	if wl := evidenceSelectors(t, r, "workload"); !slices.Equal(wl, []string{"container:image_digest:" + img.Digest}) {
		t.Errorf("workload selectors %v", wl)
	}
	tv := r.Submods["workload"].TrustVector
	if tv.Executables != ear.ApprovedRuntimeClaim || tv.FileSystem != ear.ApprovedFilesClaim {
		t.Errorf("workload trustworthiness vector %+v", tv)
	}
	peer := spiffeid.RequireFromString(id)
	chains := [][]*x509.Certificate{{leaf}}
	if err := claims.Authorize(tlsconfig.AuthorizeID(peer), claims.RequireImageDigest(img.Digest))(peer, chains); err != nil {
		t.Errorf("the container's SVID refused for its own digest: %v", err)
	}
	if err := claims.Authorize(tlsconfig.AuthorizeID(peer), claims.RequireImageDigest("sha256:"+strings.Repeat("0", 64)))(peer, chains); err == nil {
		t.Error("the container's SVID admitted for another digest")
	} else {
		t.Logf("another digest required: %v", err)
	}
	t.Logf("container %s of %s (%s): SVID with claims", cid[:12], ref, img.Digest)
}

// TestClaimsHighAvailability: two SPIRE servers on one PostgreSQL datastore,
// each with the composer on its own API socket, compose the same claims for
// one workload (the agent attested to one of them): the composer keeps no
// state of its own.
func TestClaimsHighAvailability(t *testing.T) {
	t.Parallel()
	pg := harness.StartPostgres(t)
	n := newNode(t, swtpmtest.Options{})
	start := func() *harness.Server {
		dir := harness.Dir(t)
		return harness.StartServer(t, harness.ServerConfig{Dir: dir, AgentTTL: agentTTL, DataStore: pg.DataStore(), NodeAttestor: n.caConfig(),
			ExtraPlugins: composerBlock(t, filepath.Join(dir, "api.sock"), "")})
	}
	a, b := start(), start()
	if err := harness.Eventually(30*time.Second, func() error {
		if got := strings.Count(a.MustCLI(t, "bundle", "show"), "BEGIN CERTIFICATE"); got < 2 {
			return fmt.Errorf("bundle has %d CAs, want 2", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	harness.StartAgent(t, harness.AgentConfig{Server: a, NodeAttestor: n.agentConfig()})
	id := "spiffe://" + harness.TrustDomain + "/ha-workload"
	a.CreateEntry(t, n.agentID(), id, "unix:uid:0")
	var got [2]*claims.Claims
	for i, s := range []*harness.Server{a, b} {
		cert := mustMintX509(t, s.Socket, id)
		c, err := claims.FromCertificate(cert)
		if err != nil {
			t.Fatalf("server %d: %v", i+1, err)
		}
		if c.Node.AgentID != n.agentID() || !c.Node.HasSelector("tpm:pub_hash:"+n.ekHash) || !slices.Equal(c.Workload.Selectors, []string{"unix:uid:0"}) {
			t.Fatalf("server %d: claims %+v %+v", i+1, c.Node, c.Workload)
		}
		got[i] = c
	}
	if !slices.Equal(got[0].Node.Selectors, got[1].Node.Selectors) || !got[0].Node.AttestedAt.Equal(got[1].Node.AttestedAt) {
		t.Errorf("the servers differ: %+v vs %+v", got[0].Node, got[1].Node)
	}
}
