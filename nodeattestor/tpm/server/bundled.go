package server

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io/fs"
)

// bundledCAs are TPM vendors' EK CA roots and intermediates (Infineon, Intel,
// Nuvoton/Nationz, STMicroelectronics, GlobalSign, Alibaba Cloud vTPM), from
// Keylime's tpm_cert_store (Apache-2.0; see ekca/NOTICE). Some intermediates
// have expired; chain verification checks validity at attestation time.
//
//go:embed ekca/*.pem
var bundledCAs embed.FS

// addBundledCAs adds the bundled vendor CAs to the pools: self-signed
// certificates as roots, the others as intermediates.
func addBundledCAs(roots, inter *x509.CertPool) (int, error) {
	n := 0
	err := fs.WalkDir(bundledCAs, "ekca", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := bundledCAs.ReadFile(path)
		if err != nil {
			return err
		}
		added, err := addPEM(path, b, roots, inter)
		n += added
		return err
	})
	return n, err
}

// addPEM adds every certificate in a PEM bundle to the pools.
func addPEM(path string, b []byte, roots, inter *x509.CertPool) (int, error) {
	n := 0
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return n, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return n, fmt.Errorf("%s: %w", path, err)
		}
		if cert.CheckSignatureFrom(cert) == nil {
			roots.AddCert(cert)
		} else {
			inter.AddCert(cert)
		}
		n++
	}
}
