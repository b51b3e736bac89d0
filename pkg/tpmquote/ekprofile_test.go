package tpmquote_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

var (
	oidSAN             = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidTPMManufacturer = asn1.ObjectIdentifier{2, 23, 133, 2, 1}
	oidTPMModel        = asn1.ObjectIdentifier{2, 23, 133, 2, 2}
	oidTPMVersion      = asn1.ObjectIdentifier{2, 23, 133, 2, 3}
	oidEKCertificate   = asn1.ObjectIdentifier{2, 23, 133, 8, 1}
)

// tpmSAN is the TCG EK certificate subject alternative name: one
// directoryName with the TPM manufacturer, model and version.
func tpmSAN(t *testing.T, critical bool, attrs ...pkix.AttributeTypeAndValue) pkix.Extension {
	t.Helper()
	var rdn pkix.RDNSequence
	for _, a := range attrs {
		rdn = append(rdn, pkix.RelativeDistinguishedNameSET{a})
	}
	dn, err := asn1.Marshal(rdn)
	if err != nil {
		t.Fatal(err)
	}
	v, err := asn1.Marshal([]asn1.RawValue{{Class: asn1.ClassContextSpecific, Tag: 4, IsCompound: true, Bytes: dn}})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.Extension{Id: oidSAN, Critical: critical, Value: v}
}

var tpmAttrs = []pkix.AttributeTypeAndValue{
	{Type: oidTPMManufacturer, Value: "id:49465800"},
	{Type: oidTPMModel, Value: "SLB9670"},
	{Type: oidTPMVersion, Value: "id:00070055"},
}

// ekKeys are an RSA and an ECC key with their TPMT_PUBLIC as EKs (the TCG
// templates with the key as unique), so VerifyEK runs without a TPM.
type ekKey struct {
	name   string
	key    crypto.PublicKey
	public []byte
	usage  x509.KeyUsage // what the profile assigns
}

func ekKeys(t *testing.T) []ekKey {
	t.Helper()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rpub := tpm2.RSAEKTemplate
	rpub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: rk.N.Bytes()})
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	epub := tpm2.ECCEKTemplate
	epub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{
		X: tpm2.TPM2BECCParameter{Buffer: ek.X.FillBytes(make([]byte, 32))},
		Y: tpm2.TPM2BECCParameter{Buffer: ek.Y.FillBytes(make([]byte, 32))},
	})
	return []ekKey{
		{"RSA", rk.Public(), tpm2.Marshal(rpub), x509.KeyUsageKeyEncipherment},
		{"ECC", ek.Public(), tpm2.Marshal(epub), x509.KeyUsageKeyAgreement},
	}
}

// TestEKCertificateProfile: only a certificate with the TCG EK profile is an
// EK certificate, whoever signed it. A vendor root that also signs other
// devices' certificates (Infineon's "OPTIGA(TM) Devices" roots) must not make
// such a certificate an EK certificate: the tests sign every certificate with
// one trusted CA and vary only the profile.
func TestEKCertificateProfile(t *testing.T) {
	ca := tpmtest.NewCA(t, "vendor root")
	for _, k := range ekKeys(t) {
		// ekProfile is a vendor EK certificate as swtpm and the vendors make
		// it: empty subject, critical TPM SAN, key usage, EKU, not a CA.
		ekProfile := func() *x509.Certificate {
			return &x509.Certificate{
				SerialNumber:          big.NewInt(42),
				NotBefore:             time.Now().Add(-time.Hour),
				NotAfter:              time.Now().Add(time.Hour),
				BasicConstraintsValid: true,
				KeyUsage:              k.usage,
				UnknownExtKeyUsage:    []asn1.ObjectIdentifier{oidEKCertificate},
				ExtraExtensions:       []pkix.Extension{tpmSAN(t, true, tpmAttrs...)},
			}
		}
		for _, tc := range []struct {
			name string
			edit func(c *x509.Certificate)
			want string // "" accepted
		}{
			{name: "vendor profile", edit: func(*x509.Certificate) {}},
			{name: "no key usage, no EKU", edit: func(c *x509.Certificate) { c.KeyUsage, c.UnknownExtKeyUsage = 0, nil }},
			{name: "non-critical TPM SAN", edit: func(c *x509.Certificate) {
				c.ExtraExtensions = []pkix.Extension{tpmSAN(t, false, tpmAttrs...)}
			}},
			{name: "further EKU", edit: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} }},
			{name: "device certificate", edit: func(c *x509.Certificate) {
				// What a general device CA issues: a subject, a DNS name, a
				// signing key for TLS client authentication.
				c.Subject = pkix.Name{CommonName: "OPTIGA Trust device 1234"}
				c.ExtraExtensions, c.DNSNames = nil, []string{"device-1234.example"}
				c.KeyUsage = x509.KeyUsageDigitalSignature
				c.ExtKeyUsage, c.UnknownExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
			}, want: "tpmquote: ek certificate: no TPM subject alternative name (manufacturer, model, version): not an EK certificate"},
			{name: "no SAN", edit: func(c *x509.Certificate) { c.ExtraExtensions = nil },
				want: "tpmquote: ek certificate: no TPM subject alternative name (manufacturer, model, version): not an EK certificate"},
			{name: "e-mail SAN", edit: func(c *x509.Certificate) {
				// With a subject, so that the SAN is not critical.
				c.Subject = pkix.Name{CommonName: "tpm"}
				c.ExtraExtensions, c.EmailAddresses = nil, []string{"tpm@example.org"}
			}, want: "tpmquote: ek certificate: no TPM subject alternative name (manufacturer, model, version): not an EK certificate"},
			{name: "CA", edit: func(c *x509.Certificate) { c.IsCA = true },
				want: "tpmquote: ek certificate: a CA certificate, not an EK certificate"},
			{name: "certificate signing", edit: func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCertSign },
				want: "tpmquote: ek certificate: a CA certificate, not an EK certificate"},
			{name: "CRL signing", edit: func(c *x509.Certificate) { c.KeyUsage |= x509.KeyUsageCRLSign },
				want: "tpmquote: ek certificate: a CA certificate, not an EK certificate"},
			{name: "signing key usage", edit: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature },
				want: "tpmquote: ek certificate: key usage of an " + k.name + " EK certificate lacks " + map[string]string{"RSA": "keyEncipherment", "ECC": "keyAgreement"}[k.name]},
			{name: "other algorithm's key usage", edit: func(c *x509.Certificate) { c.KeyUsage ^= x509.KeyUsageKeyEncipherment | x509.KeyUsageKeyAgreement },
				want: "tpmquote: ek certificate: key usage of an " + k.name + " EK certificate lacks " + map[string]string{"RSA": "keyEncipherment", "ECC": "keyAgreement"}[k.name]},
			{name: "server EKU", edit: func(c *x509.Certificate) {
				c.ExtKeyUsage, c.UnknownExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil
			}, want: "tpmquote: ek certificate: extended key usage lacks tcg-kp-EKCertificate (2.23.133.8.1)"},
			{name: "any EKU", edit: func(c *x509.Certificate) {
				c.ExtKeyUsage, c.UnknownExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, nil
			}, want: "tpmquote: ek certificate: extended key usage lacks tcg-kp-EKCertificate (2.23.133.8.1)"},
			{name: "another TCG EKU", edit: func(c *x509.Certificate) {
				c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{{2, 23, 133, 8, 3}} // tcg-kp-AIKCertificate
			}, want: "tpmquote: ek certificate: extended key usage lacks tcg-kp-EKCertificate (2.23.133.8.1)"},
		} {
			t.Run(k.name+"/"+tc.name, func(t *testing.T) {
				tmpl := ekProfile()
				tc.edit(tmpl)
				der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, k.key, ca.Key)
				if err != nil {
					t.Fatal(err)
				}
				got, err := tpmquote.VerifyEK(der, k.public, tpmquote.EKPolicy{Roots: ca.Pool()})
				if tc.want == "" {
					if err != nil {
						t.Fatal(err)
					}
					if !got.CertVerified || got.Manufacturer != "id:49465800" || got.ManufacturerName != "Infineon" || got.Model != "SLB9670" {
						t.Errorf("EK = %+v", got)
					}
					return
				}
				wantRefusal(t, err, tpmquote.ReasonEKUntrusted, tc.want)
				// With "either", a listed hash still admits the EK, but the
				// certificate is not counted as verified, so nothing it
				// claims becomes a selector.
				got, err = tpmquote.VerifyEK(der, k.public, tpmquote.EKPolicy{
					Roots: ca.Pool(), Require: tpmquote.RequireEither, Listed: func(string) bool { return true }})
				if err != nil {
					t.Fatal(err)
				}
				if got.CertVerified || got.Manufacturer != "" || got.Issuer != "" {
					t.Errorf("EK = %+v", got)
				}
			})
		}
	}
}
