package tpm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
)

// EKAlgorithms are the EK key types the server's ek_algorithms names, in
// the TCG EK Credential Profile's order: a TPM may hold a certified EK of
// several of them (RSA 2048 and ECC P-256 in the low range, others in the
// high range), and each EK is an agent ID of its own.
var EKAlgorithms = []string{"rsa-2048", "rsa-3072", "rsa-4096", "ecc-p256", "ecc-p384", "ecc-p521"}

// DefaultEKAlgorithms is the server's default ek_algorithms: the RSA 2048
// EK, the TCG default EK and the one spiffe/spire-tpm-plugin puts in the
// agent ID; one EK per TPM, so that one denied EK hash revokes the machine.
var DefaultEKAlgorithms = []string{"rsa-2048"}

// EKAlgorithm names the type of an EK public key as EKAlgorithms does
// ("rsa-2048", "ecc-p384"), or "" for any other key.
func EKAlgorithm(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return "ecc-p256"
		case elliptic.P384():
			return "ecc-p384"
		case elliptic.P521():
			return "ecc-p521"
		}
	}
	return ""
}

// ParseEKAlgorithms expands ek_algorithms entries into EKAlgorithms names:
// a name of EKAlgorithms, or "rsa" or "ecc" for every size of the family.
// Every unknown entry is an error.
func ParseEKAlgorithms(entries []string) ([]string, error) {
	var out []string
	var errs []error
	for _, e := range entries {
		switch {
		case e == "rsa" || e == "ecc":
			for _, alg := range EKAlgorithms {
				if strings.HasPrefix(alg, e+"-") && !slices.Contains(out, alg) {
					out = append(out, alg)
				}
			}
		case slices.Contains(EKAlgorithms, e):
			if !slices.Contains(out, e) {
				out = append(out, e)
			}
		default:
			errs = append(errs, fmt.Errorf("%q is not rsa, ecc or one of %s", e, strings.Join(EKAlgorithms, ", ")))
		}
	}
	slices.SortFunc(out, func(a, b string) int { return slices.Index(EKAlgorithms, a) - slices.Index(EKAlgorithms, b) })
	return out, errors.Join(errs...)
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
