package ekca

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io/fs"

	"github.com/hwattest/hwattest/internal/readfile"
)

//go:embed *.pem
var bundled embed.FS

// AddBundled adds the bundled vendor CAs to the pools: self-signed
// certificates as roots, the others as intermediates. It returns how many
// certificates it added.
func AddBundled(roots, intermediates *x509.CertPool) (int, error) {
	n := 0
	err := fs.WalkDir(bundled, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := bundled.ReadFile(path)
		if err != nil {
			return err
		}
		added, err := AddPEM(path, b, roots, intermediates)
		n += added
		return err
	})
	if err != nil {
		return n, fmt.Errorf("ekca: %w", err)
	}
	return n, nil
}

// AddPEM adds every CERTIFICATE block of a PEM bundle to the pools:
// self-signed certificates as roots, the others as intermediates. Other
// block types are skipped. name labels errors (a file name). It returns how
// many certificates it added before any error.
func AddPEM(name string, b []byte, roots, intermediates *x509.CertPool) (int, error) {
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
			return n, fmt.Errorf("%s: %w", name, err)
		}
		if cert.CheckSignatureFrom(cert) == nil {
			roots.AddCert(cert)
		} else {
			intermediates.AddCert(cert)
		}
		n++
	}
}

// Load adds the PEM certificates of files and directories (one level deep)
// to the pools as AddPEM does, each file at most maxFileSize bytes, and
// returns how many it added.
func Load(paths []string, maxFileSize int64, roots, intermediates *x509.CertPool) (int, error) {
	n := 0
	err := readfile.Each(paths, maxFileSize, func(path string, b []byte) error {
		added, err := AddPEM(path, b, roots, intermediates)
		n += added
		return err
	})
	return n, err
}
