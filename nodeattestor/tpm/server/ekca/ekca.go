package ekca

import (
	"crypto/x509"
	"embed"
	"encoding/pem"
	"fmt"
	"io/fs"
	"strings"

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
// many certificates it added; on error it adds none.
func AddPEM(name string, b []byte, roots, intermediates *x509.CertPool) (int, error) {
	certs, err := ParsePEM(name, b)
	if err != nil {
		return 0, err
	}
	for _, cert := range certs {
		if IsRoot(cert) {
			roots.AddCert(cert)
		} else {
			intermediates.AddCert(cert)
		}
	}
	return len(certs), nil
}

// ParsePEM returns the certificates of a PEM bundle's CERTIFICATE blocks;
// other block types are skipped. name labels errors (a file name).
func ParsePEM(name string, b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		certs = append(certs, cert)
	}
}

// IsRoot reports whether cert is self-signed: a root, not an intermediate.
func IsRoot(cert *x509.Certificate) bool { return cert.CheckSignatureFrom(cert) == nil }

// Certificate is a bundled CA certificate and the file it is bundled in.
type Certificate struct {
	File string
	*x509.Certificate
}

// Bundled returns the bundled vendor CA certificates, by file name.
func Bundled() ([]Certificate, error) {
	var out []Certificate
	err := fs.WalkDir(bundled, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".pem") {
			return err
		}
		b, err := bundled.ReadFile(path)
		if err != nil {
			return err
		}
		certs, err := ParsePEM(path, b)
		for _, c := range certs {
			out = append(out, Certificate{File: path, Certificate: c})
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ekca: %w", err)
	}
	return out, nil
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
