package cli_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/spiffebundle"
	"github.com/spiffe/go-spiffe/v2/proto/spiffe/workload"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/veraison/cmw"
	"github.com/veraison/ear"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/hwattest/hwattest/cmd/hwattest/internal/cli"
	"github.com/hwattest/hwattest/pkg/claims"
)

// claimsTime is when the test claims were issued: fixed, so that nothing
// the tests make expires.
var claimsTime = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

func testClaims() *claims.Claims {
	return &claims.Claims{
		IssuedAt: claimsTime,
		Verifier: "hwattest test",
		Node: &claims.Appraisal{
			Status:      ear.TrustTierAffirming,
			TrustVector: ear.TrustVector{InstanceIdentity: ear.TrustworthyInstanceClaim, Hardware: ear.GenuineHardwareClaim},
			Selectors:   []string{"tpm:policy:genuine", "tpm:secureboot:enabled"},
			AgentID:     "spiffe://example.org/spire/agent/tpm/abc",
			AttestedAt:  claimsTime.Add(-time.Minute),
		},
		Workload: &claims.Appraisal{
			Status:      ear.TrustTierAffirming,
			TrustVector: ear.TrustVector{Executables: ear.ApprovedRuntimeClaim},
			Selectors:   []string{"container:image_digest:sha256:aaaa", "unix:uid:0"},
		},
	}
}

// writeSVID writes a self-signed X509-SVID for spiffe://example.org/wl
// (id, when not empty) carrying exts, as PEM, and returns its path.
func writeSVID(t *testing.T, id string, exts ...pkix.Extension) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		NotBefore:       claimsTime.Add(-time.Hour),
		NotAfter:        claimsTime.Add(time.Hour),
		ExtraExtensions: exts,
	}
	if id != "" {
		u, err := url.Parse(id)
		if err != nil {
			t.Fatal(err)
		}
		tmpl.URIs = []*url.URL{u}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "svid.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeCA writes a CA certificate with a SPIFFE ID (as a SPIRE bundle
// holds) and returns its path.
func writeCA(t *testing.T, id string) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(3), NotBefore: claimsTime.Add(-time.Hour), NotAfter: claimsTime.Add(time.Hour),
		URIs: []*url.URL{u}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bundle.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func extension(t *testing.T, c *claims.Claims) pkix.Extension {
	t.Helper()
	ext, err := c.X509Extension()
	if err != nil {
		t.Fatal(err)
	}
	return ext
}

// writeJWT writes a signed JWT-SVID with claims (a nil cmw leaves the claim
// out) and returns its path.
func writeJWT(t *testing.T, sub string, cmwValue any) string {
	t.Helper()
	return writeJWTExpiring(t, sub, cmwValue, claimsTime.Add(5*time.Minute))
}

// writeJWTExpiring is writeJWT with the expiry exp.
func writeJWTExpiring(t *testing.T, sub string, cmwValue any, exp time.Time) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	std := jwt.Claims{Subject: sub, Audience: jwt.Audience{"svc"}, Expiry: jwt.NewNumericDate(exp), IssuedAt: jwt.NewNumericDate(claimsTime)}
	b := jwt.Signed(signer).Claims(std)
	if cmwValue != nil {
		b = b.Claims(map[string]any{claims.JWTClaim: cmwValue})
	}
	tok, err := b.Serialize()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "svid.jwt")
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestClaimsX509(t *testing.T) {
	path := writeSVID(t, "spiffe://example.org/wl", extension(t, testClaims()))
	r := mustRun(t, cli.ExitOK, "claims", path)
	for _, want := range []string{
		"X509-SVID spiffe://example.org/wl (" + path + "; signature not checked)\n",
		"  expires:   2026-12-07T07:00:00Z\n",
		"  claims:    EAR (tag:github.com,2023:veraison/ear) in a RATS CMW\n",
		"  issued:    2026-12-07T06:00:00Z by hwattest test\n",
		"  node: affirming\n    agent:         spiffe://example.org/spire/agent/tpm/abc\n    attested:      2026-12-07T05:59:00Z\n",
		"    trust vector:  instance-identity=2 (affirming) hardware=2 (affirming)\n",
		"      tpm:policy:genuine\n      tpm:secureboot:enabled\n",
		"  workload: affirming\n    trust vector:  executables=2 (affirming)\n    selectors:\n      container:image_digest:sha256:aaaa\n      unix:uid:0\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}

	r = mustRun(t, cli.ExitOK, "claims", "--json", path)
	var got struct {
		Kind            string `json:"kind"`
		SPIFFEID        string `json:"spiffe_id"`
		FromWorkloadAPI bool   `json:"from_workload_api"`
		MediaType       string `json:"media_type"`
		EAR             struct {
			Profile string `json:"eat_profile"`
			Submods map[string]struct {
				Status string `json:"ear.status"`
			} `json:"submods"`
		} `json:"ear"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if got.Kind != "x509-svid" || got.SPIFFEID != "spiffe://example.org/wl" || got.FromWorkloadAPI ||
		got.MediaType != claims.MediaType || got.EAR.Profile != claims.Profile ||
		got.EAR.Submods["node"].Status != "affirming" || got.EAR.Submods["workload"].Status != "affirming" {
		t.Errorf("--json: %+v\n%s", got, r.stdout)
	}
}

func TestClaimsAgentSVID(t *testing.T) {
	c := testClaims()
	c.Workload = nil
	r := mustRun(t, cli.ExitOK, "claims", writeSVID(t, "spiffe://example.org/spire/agent/tpm/abc", extension(t, c)))
	if !strings.Contains(r.stdout, "  workload: none (an agent's SVID)\n") {
		t.Errorf("output:\n%s", r.stdout)
	}
}

func TestClaimsJWT(t *testing.T) {
	v, err := testClaims().JWTClaimValue()
	if err != nil {
		t.Fatal(err)
	}
	path := writeJWT(t, "spiffe://example.org/wl", v)
	r := mustRun(t, cli.ExitOK, "claims", path)
	for _, want := range []string{
		"JWT-SVID spiffe://example.org/wl (" + path + "; signature not checked)\n",
		"  expires:   2026-12-07T06:05:00Z\n",
		"      container:image_digest:sha256:aaaa\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = mustRun(t, cli.ExitOK, "claims", "--json", path)
	if !strings.Contains(r.stdout, `"kind": "jwt-svid"`) || !strings.Contains(r.stdout, `"eat_profile": "tag:github.com,2023:veraison/ear"`) {
		t.Errorf("--json:\n%s", r.stdout)
	}
}

// TestClaimsRefused: an SVID without claims, or with claims a relying party
// refuses, exits 1 with the reason on standard error (and in the output).
func TestClaimsRefused(t *testing.T) {
	other, err := cmw.NewMonad("application/json", []byte(`{}`), cmw.AttestationResults)
	if err != nil {
		t.Fatal(err)
	}
	otherExt, err := other.EncodeX509Extension(cmw.ChoiceJson, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"no extension", writeSVID(t, "spiffe://example.org/wl"), "no attestation claims"},
		{"another media type", writeSVID(t, "spiffe://example.org/wl", *otherExt), `unknown media type "application/json"`},
		{"JWT without cmw", writeJWT(t, "spiffe://example.org/wl", nil), `no attestation claims (no "cmw" claim)`},
		{"JWT with a malformed cmw", writeJWT(t, "spiffe://example.org/wl", "nonsense"), `JWT claim "cmw"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := mustRun(t, cli.ExitFailed, "claims", tc.path)
			if !strings.Contains(r.stderr, tc.want) || !strings.Contains(r.stdout, "  claims:    REFUSED: ") {
				t.Errorf("want %q\nstdout:\n%s\nstderr:\n%s", tc.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestClaimsUsage(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage")
	if err := os.WriteFile(garbage, []byte("not an SVID"), 0o600); err != nil {
		t.Fatal(err)
	}
	notSVID := writeSVID(t, "", extension(t, testClaims()))
	notJWTSVID := writeJWT(t, "someone", nil)
	caCert := writeCA(t, "spiffe://example.org")
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"claims"}, cli.ExitUsage, "FILE or --socket ADDR is required"},
		{[]string{"claims", garbage, "--socket", "unix:///nonexistent"}, cli.ExitUsage, "give FILE or --socket, not both"},
		{[]string{"claims", "--audience", "x", garbage}, cli.ExitUsage, "--audience needs --socket"},
		{[]string{"claims", garbage, garbage}, cli.ExitUsage, "unexpected argument"},
		{[]string{"claims", "--spiffe-id", "spiffe://example.org/wl", garbage}, cli.ExitUsage, "--spiffe-id needs --socket"},
		{[]string{"claims", filepath.Join(dir, "missing")}, cli.ExitUsage, "no such file"},
		{[]string{"claims", garbage}, cli.ExitUsage, "neither a PEM certificate nor a JWT"},
		{[]string{"claims", notSVID}, cli.ExitUsage, "not an X509-SVID"},
		{[]string{"claims", caCert}, cli.ExitUsage, "not an X509-SVID: a CA certificate"},
		{[]string{"claims", notJWTSVID}, cli.ExitUsage, `not a JWT-SVID: subject "someone"`},
		{[]string{"claims", "--timeout", "1s", "--socket", "unix://" + filepath.Join(dir, "no.sock")}, cli.ExitServer, "workload API unix://"},
	} {
		r := run(t, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, want %d with %q\nstderr: %s", tc.args, r.code, tc.code, tc.want, r.stderr)
		}
	}
}

// workloadAPI is a fake SPIRE agent workload API on a unix socket: it gives
// every caller the X509-SVIDs and the JWT-SVID it holds.
type workloadAPI struct {
	workload.UnimplementedSpiffeWorkloadAPIServer
	x509 []*workload.X509SVID
	jwt  string
}

func (w *workloadAPI) FetchX509SVID(_ *workload.X509SVIDRequest, stream grpc.ServerStreamingServer[workload.X509SVIDResponse]) error {
	if err := stream.Send(&workload.X509SVIDResponse{Svids: w.x509}); err != nil {
		return err
	}
	<-stream.Context().Done()
	return nil
}

func (w *workloadAPI) FetchJWTSVID(_ context.Context, req *workload.JWTSVIDRequest) (*workload.JWTSVIDResponse, error) {
	if req.SpiffeId != "" && req.SpiffeId != "spiffe://example.org/wl" {
		return nil, status.Errorf(codes.PermissionDenied, "no identity issued")
	}
	return &workload.JWTSVIDResponse{Svids: []*workload.JWTSVID{{SpiffeId: "spiffe://example.org/wl", Svid: w.jwt}}}, nil
}

// serveWorkloadAPI serves w on a new unix socket and returns its address.
func serveWorkloadAPI(t *testing.T, w *workloadAPI) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "api.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	workload.RegisterSpiffeWorkloadAPIServer(s, w)
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return "unix://" + path
}

// x509SVID makes an X509-SVID for id carrying exts as the workload API
// sends it: the leaf's DER, its PKCS#8 key, and the bundle's DER.
func x509SVID(t *testing.T, id string, exts ...pkix.Extension) *workload.X509SVID {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(id)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(2),
		NotBefore:       claimsTime.Add(-time.Hour),
		NotAfter:        claimsTime.Add(time.Hour),
		URIs:            []*url.URL{u},
		KeyUsage:        x509.KeyUsageDigitalSignature,
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return &workload.X509SVID{SpiffeId: id, X509Svid: der, X509SvidKey: pkcs8, Bundle: der}
}

// TestClaimsWorkloadAPI: --socket prints the claims of every X509-SVID the
// workload API gives the caller (exit 1 when one has none), and with
// --audience those of a JWT-SVID.
func TestClaimsWorkloadAPI(t *testing.T) {
	api := &workloadAPI{x509: []*workload.X509SVID{
		x509SVID(t, "spiffe://example.org/wl", extension(t, testClaims())),
		x509SVID(t, "spiffe://example.org/plain"),
	}}
	v, err := testClaims().JWTClaimValue()
	if err != nil {
		t.Fatal(err)
	}
	// The workload API client refuses an expired JWT-SVID: this one
	// expires an hour after the test starts.
	api.jwt = readJWT(t, writeJWTExpiring(t, "spiffe://example.org/wl", v, time.Now().Add(time.Hour)))
	addr := serveWorkloadAPI(t, api)

	r := mustRun(t, cli.ExitFailed, "claims", "--socket", addr)
	for _, want := range []string{
		"X509-SVID spiffe://example.org/wl (workload API " + addr + "; from the SPIRE agent)\n",
		"      container:image_digest:sha256:aaaa\n",
		"\nX509-SVID spiffe://example.org/plain (workload API " + addr + "; from the SPIRE agent)\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "x509-svid spiffe://example.org/plain: claims: certificate: no attestation claims") {
		t.Errorf("stderr: %s", r.stderr)
	}

	r = mustRun(t, cli.ExitOK, "claims", "--socket", addr, "--spiffe-id", "spiffe://example.org/wl")
	if strings.Contains(r.stdout, "plain") || !strings.Contains(r.stdout, "X509-SVID spiffe://example.org/wl ") {
		t.Errorf("--spiffe-id:\n%s", r.stdout)
	}
	r = mustRun(t, cli.ExitServer, "claims", "--socket", addr, "--spiffe-id", "spiffe://example.org/nobody")
	if !strings.Contains(r.stderr, "the workload API gave this process no SVID for spiffe://example.org/nobody") {
		t.Errorf("--spiffe-id of no SVID: %s", r.stderr)
	}

	mustRun(t, cli.ExitOK, "claims", "--socket", addr, "--audience", "svc", "--spiffe-id", "spiffe://example.org/wl")
	r = mustRun(t, cli.ExitServer, "claims", "--socket", addr, "--audience", "svc", "--spiffe-id", "spiffe://example.org/plain")
	if !strings.Contains(r.stderr, "fetch JWT-SVID") || !strings.Contains(r.stderr, "no identity issued") {
		t.Errorf("JWT-SVID of another ID: %s", r.stderr)
	}
	r = mustRun(t, cli.ExitOK, "claims", "--json", "--socket", addr, "--audience", "svc")
	if !strings.Contains(r.stdout, `"kind": "jwt-svid"`) || !strings.Contains(r.stdout, `"from_workload_api": true`) {
		t.Errorf("--json --audience:\n%s", r.stdout)
	}
}

func readJWT(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestClaimsBundle: with --bundle, an X509-SVID and a JWT-SVID that the
// bundle's CA and JWT authority signed verify; another signer's are shown
// with the reason and exit 1. Validity is around the current time (the
// verification uses it), so nothing here expires.
func TestClaimsBundle(t *testing.T) {
	now := time.Now()
	td := spiffeid.RequireTrustDomainFromString("example.org")
	newCA := func() (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(10), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
			URIs: []*url.URL{td.ID().URL()}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, key
	}
	ca, caKey := newCA()
	otherCA, otherKey := newCA()
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf := func(name string, issuer *x509.Certificate, issuerKey *ecdsa.PrivateKey) string {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse("spiffe://example.org/wl")
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(11), NotBefore: now.Add(-time.Minute), NotAfter: now.Add(time.Hour),
			URIs: []*url.URL{u}, KeyUsage: x509.KeyUsageDigitalSignature,
			ExtraExtensions: []pkix.Extension{extension(t, testClaims())},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, issuerKey)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	good, forged := leaf("good.pem", ca, caKey), leaf("forged.pem", otherCA, otherKey)

	jwtKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sb := spiffebundle.New(td)
	sb.AddX509Authority(ca)
	if err := sb.AddJWTAuthority("k1", jwtKey.Public()); err != nil {
		t.Fatal(err)
	}
	bundleJSON, err := sb.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	spiffeBundle := write("bundle.json", bundleJSON)
	pemBundle := write("bundle.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw}))
	v, err := testClaims().JWTClaimValue()
	if err != nil {
		t.Fatal(err)
	}
	token := func(name string, key *ecdsa.PrivateKey) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
		if err != nil {
			t.Fatal(err)
		}
		tok, err := jwt.Signed(signer).Claims(jwt.Claims{Subject: "spiffe://example.org/wl", Audience: jwt.Audience{"svc"}, Expiry: jwt.NewNumericDate(now.Add(time.Hour))}).
			Claims(map[string]any{claims.JWTClaim: v}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return write(name, []byte(tok))
	}
	goodJWT, forgedJWT := token("good.jwt", jwtKey), token("forged.jwt", otherKey)

	for _, tc := range []struct {
		file, bundle string
		code         int
		want         string
	}{
		{good, pemBundle, cli.ExitOK, "(" + good + "; signature verified against the bundle)\n"},
		{good, spiffeBundle, cli.ExitOK, "(" + good + "; signature verified against the bundle)\n"},
		{forged, pemBundle, cli.ExitFailed, "(" + forged + "; SIGNATURE NOT VALID: x509svid: could not verify leaf certificate: x509: certificate signed by unknown authority"},
		{goodJWT, spiffeBundle, cli.ExitOK, "(" + goodJWT + "; signature verified against the bundle)\n"},
		{forgedJWT, spiffeBundle, cli.ExitFailed, "(" + forgedJWT + "; SIGNATURE NOT VALID: jwtsvid: unable to get claims from token"},
	} {
		r := mustRun(t, tc.code, "claims", "--bundle", tc.bundle, tc.file)
		if !strings.Contains(r.stdout, tc.want) {
			t.Errorf("%s with %s: want %q\n%s", filepath.Base(tc.file), filepath.Base(tc.bundle), tc.want, r.stdout)
		}
		if tc.code == cli.ExitOK && !strings.Contains(r.stdout, "  workload: affirming\n") {
			t.Errorf("%s: claims not shown:\n%s", filepath.Base(tc.file), r.stdout)
		}
	}
	r := mustRun(t, cli.ExitOK, "claims", "--json", "--bundle", spiffeBundle, good)
	if !strings.Contains(r.stdout, `"signature_checked": true`) || !strings.Contains(r.stdout, `"claims": {`) ||
		!strings.Contains(r.stdout, `"agent_id": "spiffe://example.org/spire/agent/tpm/abc"`) {
		t.Errorf("--json:\n%s", r.stdout)
	}
	r = mustRun(t, cli.ExitUsage, "claims", "--bundle", pemBundle, goodJWT)
	if !strings.Contains(r.stderr, "a JWT-SVID needs a SPIFFE bundle") {
		t.Errorf("JWT with a PEM bundle: %s", r.stderr)
	}
	r = mustRun(t, cli.ExitUsage, "claims", "--bundle", pemBundle, "--socket", "unix:///x")
	if !strings.Contains(r.stderr, "--bundle needs FILE") {
		t.Errorf("--bundle --socket: %s", r.stderr)
	}
}
