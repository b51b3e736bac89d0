package claims_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/claims"
)

// FuzzDecode feeds arbitrary bytes to both decoders: as the value of an
// id-pe-cmw extension, and as the JSON of a JWT-SVID's "cmw" claim. Seeds
// under testdata/fuzz/FuzzDecode hold real encodings of both.
func FuzzDecode(f *testing.F) {
	ext, err := sample().X509Extension()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ext.Value)
	v, err := sample().JWTClaimValue()
	if err != nil {
		f.Fatal(err)
	}
	b, _ := json.Marshal(v)
	f.Add(b)
	f.Fuzz(func(t *testing.T, data []byte) {
		cert := &x509.Certificate{Extensions: []pkix.Extension{{Id: claims.OID, Value: data}}}
		c, err := claims.FromCertificate(cert)
		check(t, c, err)
		var m any
		if json.Unmarshal(data, &m) == nil {
			c, err := claims.FromJWTClaims(map[string]any{claims.JWTClaim: m})
			check(t, c, err)
		}
	})
}

// check: an error carries the package prefix once; claims that decoded
// encode again and decode to the same.
func check(t *testing.T, c *claims.Claims, err error) {
	if err != nil {
		if !strings.HasPrefix(err.Error(), "claims: ") || strings.HasPrefix(err.Error(), "claims: claims: ") {
			t.Fatalf("error without a single package prefix: %q", err)
		}
		return
	}
	ext, err := c.X509Extension()
	if err != nil {
		// Decoded claims may not encode: a status the vector does not
		// allow, say. That is the encoder's refusal, not a crash.
		return
	}
	again, err := claims.FromCertificate(&x509.Certificate{Extensions: []pkix.Extension{ext}})
	if err != nil {
		t.Fatalf("re-decode: %v", err)
	}
	a, _ := json.Marshal(c)
	b, _ := json.Marshal(again)
	if string(a) != string(b) {
		t.Fatalf("round trip differs:\n%s\n%s", a, b)
	}
}
