package tpm_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/nodeattestor/tpm"
)

func TestEKCertificateID(t *testing.T) {
	cert := &x509.Certificate{
		Issuer:       pkix.Name{Country: []string{"DE"}, Organization: []string{"Infineon Technologies AG"}, CommonName: "Infineon OPTIGA(TM) RSA Manufacturing CA 034"},
		SerialNumber: big.NewInt(0x0a1b2c),
	}
	const want = "CN=Infineon OPTIGA(TM) RSA Manufacturing CA 034,O=Infineon Technologies AG,C=DE/a1b2c"
	if got := tpm.EKCertificateID(cert); got != want {
		t.Fatalf("got %q", got)
	}
	for _, in := range []string{want, "CN=Infineon OPTIGA(TM) RSA Manufacturing CA 034,O=Infineon Technologies AG,C=DE/0A:1B:2C",
		"CN=Infineon OPTIGA(TM) RSA Manufacturing CA 034,O=Infineon Technologies AG,C=DE/000a1B2c"} {
		if got, err := tpm.ParseEKCertificateID(in); err != nil || got != want {
			t.Errorf("ParseEKCertificateID(%q) = %q, %v", in, got, err)
		}
	}
	// The serial is after the last slash; an issuer may hold slashes.
	if got, err := tpm.ParseEKCertificateID("CN=a/b CA/FF"); err != nil || got != "CN=a/b CA/ff" {
		t.Errorf("got %q, %v", got, err)
	}
	for in, msg := range map[string]string{
		"CN=x":       `want "<issuer DN>/<serial in hex>"`,
		"/1":         "empty issuer",
		" /1":        "empty issuer",
		"CN=x/":      `serial "" is not hex`,
		"CN=x/-1":    `serial "-1" is not hex`,
		"CN=x/+1":    `serial "+1" is not hex`,
		"CN=x/0x1":   `serial "0x1" is not hex`,
		"CN=x/1_0":   `serial "1_0" is not hex`,
		"CN=x/12 34": `serial "12 34" is not hex`,
		"CN=x/g":     `serial "g" is not hex`,
		"CN=x/:":     `serial ":" is not hex`,
	} {
		if _, err := tpm.ParseEKCertificateID(in); err == nil || err.Error() != msg {
			t.Errorf("ParseEKCertificateID(%q): %v, want %q", in, err, msg)
		}
	}
}

func TestEKAlgorithms(t *testing.T) {
	for in, want := range map[string][]string{
		"rsa":               {"rsa-2048", "rsa-3072", "rsa-4096"},
		"ecc":               {"ecc-p256", "ecc-p384", "ecc-p521"},
		"ecc-p384 rsa-2048": {"rsa-2048", "ecc-p384"},
		"rsa-2048 rsa":      {"rsa-2048", "rsa-3072", "rsa-4096"},
		"ecc-p521 ecc-p521": {"ecc-p521"},
		"rsa ecc":           tpm.EKAlgorithms,
		"rsa-2048":          tpm.DefaultEKAlgorithms,
	} {
		got, err := tpm.ParseEKAlgorithms(strings.Fields(in))
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("%q: %v, %v; want %v", in, got, err, want)
		}
	}
	_, err := tpm.ParseEKAlgorithms([]string{"RSA", "rsa-1024", "ecc-", "rsa"})
	if err == nil || strings.Count(err.Error(), "is not rsa, ecc or one of") != 3 {
		t.Errorf("err = %v", err)
	}
	for _, tc := range []struct {
		key  func() (crypto.PublicKey, error)
		want string
	}{
		{func() (crypto.PublicKey, error) { k, err := rsa.GenerateKey(rand.Reader, 2048); return k.Public(), err }, "rsa-2048"},
		{func() (crypto.PublicKey, error) { k, err := rsa.GenerateKey(rand.Reader, 1024); return k.Public(), err }, "rsa-1024"},
		{func() (crypto.PublicKey, error) {
			k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			return k.Public(), err
		}, "ecc-p256"},
		{func() (crypto.PublicKey, error) {
			k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			return k.Public(), err
		}, "ecc-p384"},
		{func() (crypto.PublicKey, error) {
			k, err := ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
			return k.Public(), err
		}, "ecc-p521"},
		{func() (crypto.PublicKey, error) { k, _, err := ed25519.GenerateKey(rand.Reader); return k, err }, ""},
	} {
		k, err := tc.key()
		if err != nil {
			t.Fatal(err)
		}
		if got := tpm.EKAlgorithm(k); got != tc.want {
			t.Errorf("EKAlgorithm(%T) = %q, want %q", k, got, tc.want)
		}
	}
}
