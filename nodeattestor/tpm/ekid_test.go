package tpm_test

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
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
