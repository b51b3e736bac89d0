package server

import (
	"crypto/x509"
	"testing"
)

func TestBundledCAs(t *testing.T) {
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	n, err := addBundledCAs(roots, inter)
	if err != nil {
		t.Fatal(err)
	}
	if n != 51 {
		t.Errorf("%d bundled certificates, want the 51 shipped", n)
	}
	//nolint:staticcheck // Subjects is enough to count the pools here.
	if len(roots.Subjects()) == 0 || len(inter.Subjects()) == 0 {
		t.Errorf("roots %d, intermediates %d", len(roots.Subjects()), len(inter.Subjects()))
	}
}
