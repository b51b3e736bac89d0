package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// EK key algorithms, as the agent's ek_algorithm and the server's
// ek_algorithms name them.
const (
	EKAlgorithmRSA = "rsa"
	EKAlgorithmECC = "ecc"
)

// EKAlgorithm names the algorithm of an EK public key: "rsa", "ecc", or ""
// for any other key.
func EKAlgorithm(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return EKAlgorithmRSA
	case *ecdsa.PublicKey:
		return EKAlgorithmECC
	}
	return ""
}

// EKCertificateID names an EK certificate as the server's
// deny_ek_certificates lists it and `hwattest ek` prints it: the issuer's
// distinguished name (RFC 2253 form, as crypto/x509 prints it), a slash, and
// the serial number in lowercase hex without leading zeros. A CA gives each
// certificate it issues its own serial, so the pair names one certificate.
func EKCertificateID(cert *x509.Certificate) string {
	return cert.Issuer.String() + "/" + cert.SerialNumber.Text(16)
}

// ParseEKCertificateID checks a deny_ek_certificates entry and returns it in
// the form EKCertificateID gives: the serial after the last slash, in hex of
// either case, with or without colons between bytes and leading zeros.
func ParseEKCertificateID(s string) (string, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", errors.New(`want "<issuer DN>/<serial in hex>"`)
	}
	issuer, serial := s[:i], strings.ReplaceAll(s[i+1:], ":", "")
	if strings.TrimSpace(issuer) == "" {
		return "", errors.New("empty issuer")
	}
	n, ok := new(big.Int).SetString(serial, 16)
	if !ok || serial == "" || strings.ContainsAny(serial, "+-xX_") {
		return "", fmt.Errorf("serial %q is not hex", s[i+1:])
	}
	return issuer + "/" + n.Text(16), nil
}
