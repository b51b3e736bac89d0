package ekca_test

import (
	"crypto/x509"
	"testing"

	"github.com/hwattest/hwattest/nodeattestor/tpm/server/ekca"
)

func TestAddBundled(t *testing.T) {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	n, err := ekca.AddBundled(roots, inter)
	if err != nil {
		t.Fatal(err)
	}
	if n != 56 {
		t.Errorf("%d bundled certificates, want the 56 shipped", n)
	}
	//nolint:staticcheck // Subjects is enough to count the pools here.
	if len(roots.Subjects()) == 0 || len(inter.Subjects()) == 0 {
		t.Errorf("roots %d, intermediates %d", len(roots.Subjects()), len(inter.Subjects()))
	}
}

func TestAddPEMErrors(t *testing.T) {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	n, err := ekca.AddPEM("x.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), roots, inter)
	if n != 0 || err == nil || err.Error() != "x.pem: x509: malformed certificate" {
		t.Fatalf("n %d, err %v", n, err)
	}
	n, err = ekca.AddPEM("y.pem", []byte("no PEM here"), roots, inter)
	if n != 0 || err != nil {
		t.Fatalf("n %d, err %v", n, err)
	}
}
