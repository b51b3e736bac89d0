package claims_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/veraison/cmw"
	"github.com/veraison/ear"

	"github.com/hwattest/hwattest/pkg/claims"
)

// fixed is the issue time of the test claims: fixed, so nothing expires.
var fixed = time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)

func sample() *claims.Claims {
	return &claims.Claims{
		IssuedAt: fixed,
		Verifier: "hwattest test",
		Node: &claims.Appraisal{
			Status:      ear.TrustTierAffirming,
			TrustVector: ear.TrustVector{InstanceIdentity: ear.TrustworthyInstanceClaim, Hardware: ear.GenuineHardwareClaim, Configuration: ear.ApprovedConfigClaim},
			Selectors:   []string{"tpm:ek_issuer:CN=x", "tpm:policy:level3", "tpm:secureboot:enabled"},
			AgentID:     "spiffe://example.org/spire/agent/tpm/abc",
			AttestedAt:  fixed.Add(-time.Minute),
		},
		Workload: &claims.Appraisal{
			Status:      ear.TrustTierAffirming,
			TrustVector: ear.TrustVector{Executables: ear.ApprovedRuntimeClaim, FileSystem: ear.ApprovedFilesClaim},
			Selectors:   []string{"container:image_digest:sha256:aaaa", "unix:uid:0"},
		},
	}
}

// certWith returns a self-signed certificate carrying exts.
func certWith(t testing.TB, exts ...pkix.Extension) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse("spiffe://example.org/wl")
	tmpl := &x509.Certificate{
		SerialNumber:    big.NewInt(1),
		NotBefore:       fixed.Add(-time.Hour),
		NotAfter:        fixed.Add(time.Hour),
		URIs:            []*url.URL{u},
		ExtraExtensions: exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestOIDIsTheLibrarys(t *testing.T) {
	if !claims.OID.Equal(cmw.OidExtCmw) {
		t.Fatalf("OID %s, veraison/cmw says %s", claims.OID, cmw.OidExtCmw)
	}
}

func TestCertificateRoundTrip(t *testing.T) {
	want := sample()
	ext, err := want.X509Extension()
	if err != nil {
		t.Fatal(err)
	}
	if ext.Critical || !ext.Id.Equal(claims.OID) {
		t.Fatalf("extension %s critical %v", ext.Id, ext.Critical)
	}
	got, err := claims.FromCertificate(certWith(t, ext))
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, want)
}

func TestJWTRoundTrip(t *testing.T) {
	want := sample()
	want.Node.AgentID = ""
	want.Node.AttestedAt = time.Time{}
	v, err := want.JWTClaimValue()
	if err != nil {
		t.Fatal(err)
	}
	// Through JSON, as a JWT library hands the claims over.
	b, err := json.Marshal(map[string]any{"sub": "spiffe://example.org/wl", claims.JWTClaim: v})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	got, err := claims.FromJWTClaims(m)
	if err != nil {
		t.Fatal(err)
	}
	compare(t, got, want)
	if mt := v[0]; mt != claims.MediaType {
		t.Errorf("media type %v", mt)
	}
	if ind := v[2]; ind != float64(cmw.AttestationResults) {
		t.Errorf("indicator %v", ind)
	}
}

func compare(t *testing.T, got, want *claims.Claims) {
	t.Helper()
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	if string(g) != string(w) {
		t.Fatalf("got\n%s\nwant\n%s", g, w)
	}
}

// TestEARIsVeraisons decodes the extension with veraison/cmw and
// veraison/ear alone, as another relying party would.
func TestEARIsVeraisons(t *testing.T) {
	ext, err := sample().X509Extension()
	if err != nil {
		t.Fatal(err)
	}
	w, err := cmw.DecodeX509Extension(ext)
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := w.GetMonadType()
	if mt != `application/eat-ucs+json; eat_profile="tag:github.com,2023:veraison/ear"` {
		t.Fatalf("media type %q", mt)
	}
	val, _ := w.GetMonadValue()
	var r ear.AttestationResult
	if err := r.UnmarshalJSON(val); err != nil {
		t.Fatal(err)
	}
	if *r.Submods["node"].Status != ear.TrustTierAffirming || r.Submods["workload"].TrustVector.Executables != ear.ApprovedRuntimeClaim {
		t.Fatalf("EAR %s", val)
	}
	if !strings.Contains(string(val), `"ear.status":"affirming"`) {
		t.Fatalf("EAR %s", val)
	}
}

// ext builds an id-pe-cmw extension holding the CMW JSON text.
func ext(cmwJSON string) pkix.Extension {
	v, _ := asn1.Marshal(cmwJSON)
	return pkix.Extension{Id: claims.OID, Value: v}
}

func record(mt string, val []byte) string {
	b, _ := json.Marshal([]any{mt, base64.RawURLEncoding.EncodeToString(val), 8})
	return string(b)
}

func TestRefused(t *testing.T) {
	good, err := sample().X509Extension()
	if err != nil {
		t.Fatal(err)
	}
	w, _ := cmw.DecodeX509Extension(good)
	earJSON, _ := w.GetMonadValue()
	otherProfile := strings.Replace(string(earJSON), claims.Profile, "tag:example.com,2025:other", 1)
	trustee := strings.Replace(string(earJSON), claims.Profile, ear.EatTrusteeProfile, 1)
	noNode := strings.Replace(string(earJSON), `"node":`, `"nod":`, 1)
	withTrailer := good
	withTrailer.Value = append(append([]byte{}, good.Value...), 0)

	for _, tc := range []struct {
		name string
		exts []pkix.Extension
		want string
	}{
		{"none", nil, "claims: certificate: no attestation claims (no id-pe-cmw extension, 1.3.6.1.5.5.7.1.35)"},
		{"not asn1", []pkix.Extension{{Id: claims.OID, Value: []byte{0x0c, 0x05, 'a'}}}, "claims: id-pe-cmw extension: malformed: asn1: syntax error: data truncated"},
		{"trailing bytes", []pkix.Extension{withTrailer}, "claims: id-pe-cmw extension: malformed: 1 bytes after the CMW"},
		{"not a record", []pkix.Extension{ext(`"x"`)}, "claims: id-pe-cmw extension: malformed CMW: not a JSON record: json: cannot unmarshal string into Go value of type []json.RawMessage"},
		{"value not a string", []pkix.Extension{ext(`["",0]`)}, "claims: id-pe-cmw extension: malformed CMW: the value is not a string"},
		{"collection", []pkix.Extension{ext(`{"__cmwc_t":"tag:example.com,2024:x","a":` + record(claims.MediaType, earJSON) + `}`)}, "claims: id-pe-cmw extension: a CMW collection, not a record"},
		{"other media type", []pkix.Extension{ext(record("application/eat+jwt", earJSON))}, `claims: id-pe-cmw extension: unknown media type "application/eat+jwt" (this build reads "application/eat-ucs+json; eat_profile=\"tag:github.com,2023:veraison/ear\"")`},
		{"other profile in media type", []pkix.Extension{ext(record(`application/eat-ucs+json; eat_profile="tag:example.com,2025:other"`, earJSON))}, `claims: id-pe-cmw extension: unknown EAT profile in media type "application/eat-ucs+json; eat_profile=\"tag:example.com,2025:other\"" (this build reads "application/eat-ucs+json; eat_profile=\"tag:github.com,2023:veraison/ear\"")`},
		{"no profile in media type", []pkix.Extension{ext(record(`application/eat-ucs+json`, earJSON))}, `claims: id-pe-cmw extension: media type "application/eat-ucs+json" without eat_profile (this build reads "application/eat-ucs+json; eat_profile=\"tag:github.com,2023:veraison/ear\"")`},
		{"other profile in EAR", []pkix.Extension{ext(record(claims.MediaType, []byte(otherProfile)))}, `claims: id-pe-cmw extension: unknown EAR profile "tag:example.com,2025:other" (this build reads "tag:github.com,2023:veraison/ear")`},
		{"trustee alias", []pkix.Extension{ext(record(claims.MediaType, []byte(trustee)))}, `claims: id-pe-cmw extension: unknown EAR profile "tag:github.com,2024:confidential-containers/Trustee" (this build reads "tag:github.com,2023:veraison/ear")`},
		{"not json", []pkix.Extension{ext(record(claims.MediaType, []byte("{")))}, "claims: id-pe-cmw extension: malformed EAR: unexpected end of JSON input"},
		{"no node", []pkix.Extension{ext(record(claims.MediaType, []byte(noNode)))}, `claims: id-pe-cmw extension: EAR: no "node" submod`},
		{"too large", []pkix.Extension{ext(strings.Repeat(" ", claims.MaxSize))}, "claims: id-pe-cmw extension: 65541 bytes, more than 65536"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := claims.FromCertificate(certWith(t, tc.exts...))
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tc.want)
			}
			if tc.name == "none" && !errors.Is(err, claims.ErrNoClaims) {
				t.Fatal("not ErrNoClaims")
			}
		})
	}
}

func TestJWTRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    map[string]any
		want string
	}{
		{"none", map[string]any{"sub": "x"}, `claims: JWT: no attestation claims (no "cmw" claim)`},
		{"not a record", map[string]any{"cmw": "x"}, `claims: JWT claim "cmw": malformed CMW: not a JSON record: json: cannot unmarshal string into Go value of type []json.RawMessage`},
		{"short record", map[string]any{"cmw": []any{"a"}}, `claims: JWT claim "cmw": malformed CMW: a record of 1 entries`},
		{"too large", map[string]any{"cmw": []any{strings.Repeat("a", claims.MaxSize), "AA"}}, `claims: JWT claim "cmw": 65545 bytes, more than 65536`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := claims.FromJWTClaims(tc.m)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
}

func TestEncodeRefusesNoNode(t *testing.T) {
	c := sample()
	c.Node = nil
	if _, err := c.X509Extension(); err == nil || err.Error() != "claims: no node appraisal" {
		t.Fatalf("error %v", err)
	}
}
