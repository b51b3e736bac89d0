package claims_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/spiffe/go-spiffe/v2/bundle/jwtbundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/veraison/ear"

	"github.com/hwattest/hwattest/pkg/claims"
)

func TestRequirements(t *testing.T) {
	now := fixed.Add(2 * time.Minute)
	noWorkload := sample()
	noWorkload.Workload = nil
	warning := sample()
	warning.Workload.Status = ear.TrustTierWarning
	none := sample()
	none.Node.Status = ear.TrustTierNone
	alias := sample()
	alias.Node.AttestedAt = time.Time{}
	for _, tc := range []struct {
		name string
		c    *claims.Claims
		req  claims.Requirement
		want string
	}{
		{"status", sample(), claims.RequireStatus(ear.TrustTierAffirming), ""},
		{"status warning", warning, claims.RequireStatus(ear.TrustTierAffirming), "claims: workload status warning, need affirming"},
		{"status warning allowed", warning, claims.RequireStatus(ear.TrustTierWarning), ""},
		{"status none", none, claims.RequireStatus(ear.TrustTierContraindicated), "claims: node status none, need contraindicated"},
		{"digest", sample(), claims.RequireImageDigest("sha256:bbbb", "sha256:aaaa"), ""},
		{"digest not allowed", sample(), claims.RequireImageDigest("sha256:bbbb"), "claims: image digest sha256:aaaa is not one of the 1 allowed"},
		{"digest no workload", noWorkload, claims.RequireImageDigest("sha256:aaaa"), "claims: no image digest in the workload claims"},
		{"policy", sample(), claims.RequireNodePolicy("level3"), ""},
		{"policy missing", sample(), claims.RequireNodePolicy("level4"), `claims: node policy "level4" required, the node claims level3`},
		{"secure boot", sample(), claims.RequireSecureBoot(), ""},
		{"provenance", sample(), claims.RequireProvenance("ci"), `claims: workload selector "container:provenance:ci" required, not claimed`},
		{"selector", sample(), claims.RequireSelector(claims.SubmodWorkload, "unix:uid:0"), ""},
		{"selector no workload", noWorkload, claims.RequireSelector(claims.SubmodWorkload, "unix:uid:0"), `claims: selector "unix:uid:0" required, no workload claims`},
		{"selector unknown submod", sample(), claims.RequireSelector("other", "x"), `claims: unknown submod "other"`},
		{"issued", sample(), claims.RequireIssuedWithin(5 * time.Minute), ""},
		{"issued too old", sample(), claims.RequireIssuedWithin(time.Minute), "claims: issued 2m0s ago, more than 1m0s"},
		{"attested", sample(), claims.RequireNodeAttestedWithin(5 * time.Minute), ""},
		{"attested too old", sample(), claims.RequireNodeAttestedWithin(2 * time.Minute), "claims: node attested 3m0s ago, more than 2m0s"},
		{"attested unknown", alias, claims.RequireNodeAttestedWithin(time.Hour), "claims: the claims do not say when the node attested"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := claims.Check(tc.c, now, tc.req)
			if tc.want == "" && err != nil || tc.want != "" && (err == nil || err.Error() != tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	future := sample()
	future.IssuedAt = now.Add(2 * time.Minute)
	if err := claims.Check(future, now, claims.RequireIssuedWithin(time.Hour)); err == nil || !strings.Contains(err.Error(), "in the future") {
		t.Fatalf("future: %v", err)
	}
}

func TestAuthorize(t *testing.T) {
	id := spiffeid.RequireFromString("spiffe://example.org/wl")
	c := sample()
	c.IssuedAt = time.Now()
	ext, err := c.X509Extension()
	if err != nil {
		t.Fatal(err)
	}
	with := [][]*x509.Certificate{{certWith(t, ext)}}
	without := [][]*x509.Certificate{{certWith(t)}}

	auth := claims.Authorize(tlsconfig.AuthorizeID(id), claims.RequireNodePolicy("level3"), claims.RequireIssuedWithin(time.Hour))
	if err := auth(id, with); err != nil {
		t.Fatalf("admitted peer refused: %v", err)
	}
	if err := auth(spiffeid.RequireFromString("spiffe://example.org/other"), with); err == nil {
		t.Fatal("another ID admitted")
	}
	if err := auth(id, without); err == nil || err.Error() != "peer spiffe://example.org/wl: claims: certificate: no attestation claims (no id-pe-cmw extension, 1.3.6.1.5.5.7.1.35)" {
		t.Fatalf("peer without claims: %v", err)
	}
	// No requirement still needs claims.
	if err := claims.Authorize(tlsconfig.AuthorizeAny())(id, without); err == nil {
		t.Fatal("peer without claims admitted")
	}
	strict := claims.Authorize(tlsconfig.AuthorizeID(id), claims.RequireNodePolicy("level4"))
	if err := strict(id, with); err == nil || err.Error() != `peer spiffe://example.org/wl: claims: node policy "level4" required, the node claims level3` {
		t.Fatalf("unmet requirement: %v", err)
	}
	if err := claims.Authorize(nil)(id, with); err == nil {
		t.Fatal("nil identity authorizer admitted")
	}
}

func TestMiddleware(t *testing.T) {
	td := spiffeid.RequireTrustDomainFromString("example.org")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	bundle := jwtbundle.New(td)
	if err := bundle.AddJWTAuthority("k1", key.Public()); err != nil {
		t.Fatal(err)
	}
	c := sample()
	c.IssuedAt = time.Now()
	cmwValue, err := c.JWTClaimValue()
	if err != nil {
		t.Fatal(err)
	}
	token := func(extra map[string]any) string {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: crypto.Signer(key), KeyID: "k1"}}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			t.Fatal(err)
		}
		s, err := jwt.Signed(signer).Claims(jwt.Claims{
			Subject:  "spiffe://example.org/wl",
			Audience: jwt.Audience{"svc"},
			Expiry:   jwt.NewNumericDate(time.Now().Add(time.Hour)),
		}).Claims(extra).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := claims.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := claims.FromContext(r.Context())
		if !ok {
			t.Error("no claims in the context")
			return
		}
		w.Write([]byte(c.Node.AgentID))
	}), bundle, []string{"svc"}, spiffeid.MatchID(spiffeid.RequireFromString("spiffe://example.org/wl")), claims.RequireImageDigest("sha256:aaaa"))
	for _, tc := range []struct {
		name   string
		header string
		code   int
		body   string
	}{
		{"admitted", "Bearer " + token(map[string]any{claims.JWTClaim: cmwValue}), 200, "spiffe://example.org/spire/agent/tpm/abc"},
		{"no token", "", 401, "claims: no bearer JWT-SVID\n"},
		{"no claims", "Bearer " + token(nil), 403, "claims: JWT: no attestation claims (no \"cmw\" claim)\n"},
		{"bad token", "Bearer x.y.z", 401, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.code || tc.body != "" && rec.Body.String() != tc.body {
				t.Fatalf("%d %q, want %d %q", rec.Code, rec.Body.String(), tc.code, tc.body)
			}
		})
	}
	strict := claims.Middleware(http.NotFoundHandler(), bundle, []string{"svc"}, spiffeid.MatchID(spiffeid.RequireFromString("spiffe://example.org/wl")), claims.RequireImageDigest("sha256:bbbb"))
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer "+token(map[string]any{claims.JWTClaim: cmwValue}))
	rec := httptest.NewRecorder()
	strict.ServeHTTP(rec, req)
	if rec.Code != 403 || rec.Body.String() != "claims: image digest sha256:aaaa is not one of the 1 allowed\n" {
		t.Fatalf("%d %q", rec.Code, rec.Body.String())
	}
}
