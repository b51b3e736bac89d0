package tpmquote

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/google/go-attestation/oid"
	x509ext "github.com/google/go-attestation/x509"
	"github.com/google/go-tpm/tpm2"
)

// EKRequirement says which proof of a genuine TPM the verifier demands.
type EKRequirement int

const (
	// RequireCertificate (the zero value) demands an EK certificate that
	// chains to a trusted root.
	RequireCertificate EKRequirement = iota
	// RequireHash demands that the EK hash is on the allowlist.
	RequireHash
	// RequireEither accepts a chained certificate or a listed hash.
	RequireEither
	// RequireBoth demands a chained certificate and a listed hash.
	RequireBoth
)

func (r EKRequirement) String() string {
	switch r {
	case RequireCertificate:
		return "certificate"
	case RequireHash:
		return "hash"
	case RequireEither:
		return "either"
	case RequireBoth:
		return "both"
	}
	return fmt.Sprintf("EKRequirement(%d)", int(r))
}

// ParseEKRequirement is the inverse of EKRequirement.String: certificate,
// hash, either or both.
func ParseEKRequirement(s string) (EKRequirement, error) {
	for _, r := range []EKRequirement{RequireCertificate, RequireHash, RequireEither, RequireBoth} {
		if s == r.String() {
			return r, nil
		}
	}
	return 0, errorf("unknown EK requirement %q (want certificate, hash, either or both)", s)
}

// EKPolicy says how an EK is accepted.
type EKPolicy struct {
	// Roots are the trusted EK CA roots. Nil trusts no certificate.
	Roots *x509.CertPool
	// Intermediates may complete a chain; they are not trusted on their own.
	Intermediates *x509.CertPool
	// Listed reports whether an EK hash (see EK.Hash) is on the allowlist.
	// Nil lists no hash.
	Listed func(hash string) bool
	// Require is what must hold; the zero value is RequireCertificate.
	Require EKRequirement
	// CurrentTime is the time certificates are checked at; zero means now.
	CurrentTime time.Time
}

// EK is a verified endorsement key.
type EK struct {
	// Hash is the hex SHA-256 of the PKIX DER encoding of the EK public key,
	// as spiffe/spire-tpm-plugin computes it.
	Hash string
	// Public is the EK public key: the validated certificate's key when there
	// is a certificate.
	Public crypto.PublicKey
	// Certificate is the EK certificate, nil without one.
	Certificate *x509.Certificate
	// CertVerified is true when Certificate has the TCG EK certificate
	// profile (a TPM subject alternative name, an end-entity certificate
	// for key encipherment or agreement) and chains to a trusted root.
	CertVerified bool
	// Chain is the verified chain, leaf first, when CertVerified.
	Chain []*x509.Certificate
	// Issuer is the subject of the CA certificate that issued the EK
	// certificate, when CertVerified.
	Issuer string
	// Listed is true when Hash is on the allowlist.
	Listed bool
	// Manufacturer, Model and Version are the TPM properties certified in the
	// EK certificate's subject alternative name (e.g. "id:49465800"); empty
	// without a verified certificate.
	Manufacturer, Model, Version string
	// ManufacturerName is the TCG vendor name for Manufacturer ("IFX"), when
	// known.
	ManufacturerName string

	tpmPublic *tpm2.TPMTPublic
}

// VerifyEK verifies an EK: its public area, its certificate (the TCG EK
// certificate profile and the chain), its hash against the allowlist, and
// that the certificate's key is the EK's key.
// It does not check revocation.
func VerifyEK(certDER, ekPublic []byte, policy EKPolicy) (*EK, error) {
	// The EK public bytes are never hashed into an identity (the EK hash is
	// over the PKIX key, which must equal the certificate's), so they need
	// not be canonical.
	pub, err := unmarshalTPM[tpm2.TPMTPublic]("ek public", ekPublic)
	if err != nil {
		return nil, err
	}
	a := pub.ObjectAttributes
	if !a.Restricted || !a.Decrypt || a.SignEncrypt || !a.FixedTPM || !a.FixedParent {
		return nil, refuse(ReasonMalformed, "ek public: not a restricted, fixedTPM, fixedParent decryption key")
	}
	if HashAlg(pub.NameAlg).Hash() == 0 || pub.NameAlg == tpm2.TPMAlgSHA1 {
		return nil, refuse(ReasonMalformed, "ek public: unsupported name algorithm %s", HashAlg(pub.NameAlg))
	}
	key, err := publicKey("ek public", pub)
	if err != nil {
		return nil, err
	}
	ek := &EK{Public: key, tpmPublic: pub}

	if len(certDER) > 0 {
		chainErr, err := ek.verifyCertificate(certDER, policy)
		if err != nil {
			return nil, err
		}
		if chainErr != nil && (policy.Require == RequireCertificate || policy.Require == RequireBoth) {
			return nil, chainErr
		}
		// The challenge goes to the key in the TPM public area; it must be
		// the certified key, or a genuine certificate could vouch for a
		// software key.
		if !sameKey(ek.Certificate.PublicKey, key) {
			return nil, refuse(ReasonEKMismatch, "ek public key does not match the EK certificate")
		}
		ek.Public = ek.Certificate.PublicKey
	}
	der, err := x509.MarshalPKIXPublicKey(ek.Public)
	if err != nil {
		return nil, refuse(ReasonMalformed, "ek public: %w", err)
	}
	sum := sha256.Sum256(der)
	ek.Hash = hex.EncodeToString(sum[:])
	if policy.Listed != nil {
		ek.Listed = policy.Listed(ek.Hash)
	}

	switch policy.Require {
	case RequireCertificate:
		if !ek.CertVerified {
			return nil, refuse(ReasonEKUntrusted, "no EK certificate, and one is required")
		}
	case RequireHash:
		if !ek.Listed {
			return nil, refuse(ReasonEKUntrusted, "EK %s is not on the allowlist", ek.Hash)
		}
	case RequireEither:
		if !ek.CertVerified && !ek.Listed {
			return nil, refuse(ReasonEKUntrusted, "EK %s has no trusted certificate and is not on the allowlist", ek.Hash)
		}
	case RequireBoth:
		if !ek.CertVerified {
			return nil, refuse(ReasonEKUntrusted, "no EK certificate, and one is required")
		}
		if !ek.Listed {
			return nil, refuse(ReasonEKUntrusted, "EK %s is not on the allowlist", ek.Hash)
		}
	default:
		return nil, errorf("unknown EK requirement %d", int(policy.Require))
	}
	return ek, nil
}

// verifyCertificate parses the EK certificate and checks its chain to the
// policy's roots. A certificate that cannot be parsed is an error; a chain
// that does not verify is returned as chainErr, for the caller to weigh
// against the policy (with RequireEither a listed hash may still pass).
func (ek *EK) verifyCertificate(der []byte, policy EKPolicy) (chainErr, err error) {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, refuse(ReasonMalformed, "ek certificate: %w", err)
	}
	if cert.PublicKey == nil {
		return nil, refuse(ReasonMalformed, "ek certificate: unsupported public key algorithm")
	}
	san, err := handleTPMSAN(cert)
	if err != nil {
		return nil, refuse(ReasonMalformed, "ek certificate: %w", err)
	}
	ek.Certificate = cert
	if err := checkEKProfile(cert, san); err != nil {
		return refuse(ReasonEKUntrusted, "ek certificate: %w", err), nil
	}
	if policy.Roots == nil {
		return refuse(ReasonEKUntrusted, "ek certificate: no trusted EK CA configured"), nil
	}
	chains, err := cert.Verify(x509.VerifyOptions{
		Roots:         policy.Roots,
		Intermediates: policy.Intermediates,
		CurrentTime:   policy.CurrentTime,
		// EK certificates carry the TCG EK certificate purpose
		// (2.23.133.8.1), which crypto/x509 does not know.
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return refuse(ReasonEKUntrusted, "ek certificate: %w", err), nil
	}
	ek.CertVerified = true
	ek.Chain = chains[0]
	if len(ek.Chain) > 1 {
		ek.Issuer = ek.Chain[1].Subject.String()
	}
	ek.Manufacturer, ek.Model, ek.Version = san.manufacturer, san.model, san.version
	ek.ManufacturerName = vendorName(san.manufacturer)
	return nil, nil
}

// oidEKCertificate is tcg-kp-EKCertificate, the extended key usage of EK
// certificates (TCG EK Credential Profile for TPM Family 2.0, 3.2.16).
var oidEKCertificate = asn1.ObjectIdentifier{2, 23, 133, 8, 1}

// oidKeyUsage is id-ce-keyUsage (RFC 5280, 4.2.1.3).
var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// checkEKProfile checks that a certificate is an EK certificate (TCG EK
// Credential Profile for TPM Family 2.0), not merely one a trusted CA signed:
// a vendor root may also sign other devices' certificates (Infineon's
// "OPTIGA(TM) Devices" roots do). It requires
//   - the TPM subject alternative name with a TPM manufacturer (san, from
//     handleTPMSAN; nil when the certificate has none);
//   - an end-entity certificate: not a CA, no certificate or CRL signing;
//   - a key usage, when present, that includes keyEncipherment for an RSA
//     key and keyAgreement for an ECC key, as the profile assigns them;
//   - an extended key usage, when present, that includes
//     tcg-kp-EKCertificate (2.23.133.8.1).
//
// Key usage and extended key usage may be absent (the profile makes the key
// usage mandatory, but older certificates omit extensions); the SAN is what
// every EK certificate carries and other certificates do not.
func checkEKProfile(cert *x509.Certificate, san *tpmSAN) error {
	if san == nil {
		return errors.New("no TPM subject alternative name (manufacturer, model, version): not an EK certificate")
	}
	if cert.IsCA || cert.KeyUsage&(x509.KeyUsageCertSign|x509.KeyUsageCRLSign) != 0 {
		return errors.New("a CA certificate, not an EK certificate")
	}
	hasKeyUsage := false
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(oidKeyUsage) {
			hasKeyUsage = true
		}
	}
	if hasKeyUsage {
		switch cert.PublicKey.(type) {
		case *rsa.PublicKey:
			if cert.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
				return errors.New("key usage of an RSA EK certificate lacks keyEncipherment")
			}
		case *ecdsa.PublicKey:
			if cert.KeyUsage&x509.KeyUsageKeyAgreement == 0 {
				return errors.New("key usage of an ECC EK certificate lacks keyAgreement")
			}
		default:
			return fmt.Errorf("%T is not an EK key", cert.PublicKey)
		}
	}
	if len(cert.ExtKeyUsage) > 0 || len(cert.UnknownExtKeyUsage) > 0 {
		found := false
		for _, id := range cert.UnknownExtKeyUsage {
			found = found || id.Equal(oidEKCertificate)
		}
		if !found {
			return errors.New("extended key usage lacks tcg-kp-EKCertificate (2.23.133.8.1)")
		}
	}
	return nil
}

type tpmSAN struct{ manufacturer, model, version string }

// handleTPMSAN handles the one critical extension TCG EK certificates carry
// that crypto/x509 refuses: a subject alternative name holding only a
// directoryName with the TPM manufacturer, model and version attributes
// (TCG EK Credential Profile, section 3.2.9). It removes that extension from
// UnhandledCriticalExtensions after checking it holds nothing else; any other
// unhandled critical extension stays and fails verification.
func handleTPMSAN(cert *x509.Certificate) (*tpmSAN, error) {
	var ext *pkix.Extension
	for i := range cert.Extensions {
		if cert.Extensions[i].Id.Equal(asn1.ObjectIdentifier(oid.SubjectAltName)) {
			ext = &cert.Extensions[i]
		}
	}
	if ext == nil {
		return nil, nil
	}
	parsed, err := x509ext.ParseSubjectAltName(*ext)
	if err != nil {
		if !ext.Critical {
			return nil, nil // crypto/x509 handled it (DNS, URI, ...)
		}
		return nil, fmt.Errorf("subject alternative name: %w", err)
	}
	if len(parsed.DirectoryNames) != 1 {
		if !ext.Critical {
			return nil, nil
		}
		return nil, fmt.Errorf("subject alternative name: %d directory names, want 1", len(parsed.DirectoryNames))
	}
	var san tpmSAN
	for _, attr := range parsed.DirectoryNames[0].Names {
		v, ok := attr.Value.(string)
		if !ok {
			return nil, fmt.Errorf("subject alternative name: attribute %v is not a string", attr.Type)
		}
		switch {
		case attr.Type.Equal(asn1.ObjectIdentifier(oid.TPMManufacturer)):
			san.manufacturer = v
		case attr.Type.Equal(asn1.ObjectIdentifier(oid.TPMModel)):
			san.model = v
		case attr.Type.Equal(asn1.ObjectIdentifier(oid.TPMVersion)):
			san.version = v
		default:
			return nil, fmt.Errorf("subject alternative name: unexpected attribute %v", attr.Type)
		}
	}
	if san.manufacturer == "" {
		return nil, fmt.Errorf("subject alternative name: no TPM manufacturer")
	}
	unhandled := cert.UnhandledCriticalExtensions[:0]
	for _, id := range cert.UnhandledCriticalExtensions {
		if !id.Equal(asn1.ObjectIdentifier(oid.SubjectAltName)) {
			unhandled = append(unhandled, id)
		}
	}
	cert.UnhandledCriticalExtensions = unhandled
	return &san, nil
}

// sameKey reports whether a and b are the same public key.
func sameKey(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

// tcgVendors maps TCG vendor IDs (TCG Vendor ID Registry) to their names.
var tcgVendors = map[string]string{
	"414D4400": "AMD", "41544D4C": "Atmel", "4252434D": "Broadcom", "4353434F": "Cisco",
	"464C5953": "Flyslice", "474F4F47": "Google", "48504500": "HPE", "48495349": "Huawei",
	"49424D00": "IBM", "49465800": "Infineon", "494E5443": "Intel", "4C454E00": "Lenovo",
	"4D534654": "Microsoft", "4E534D20": "National Semiconductor", "4E545A00": "Nationz",
	"4E544300": "Nuvoton", "51434F4D": "Qualcomm", "534D5343": "SMSC", "534D534E": "Samsung",
	"534E5300": "Sinosun", "53544D20": "STMicroelectronics", "54584E00": "Texas Instruments",
	"57454300": "Winbond", "524F4343": "Fuzhou Rockchip", "414C4942": "Alibaba",
	// swtpm certifies its EKs with IBM's PCI vendor ID.
	"00001014": "IBM",
}

// VendorName returns the TCG vendor name for a TPM manufacturer attribute of
// an EK certificate such as "id:49465800" ("Infineon"), or "" when unknown.
// It names a vendor; it verifies nothing.
func VendorName(manufacturer string) string { return vendorName(manufacturer) }

// vendorName returns the vendor name for a manufacturer attribute such as
// "id:49465800", or "" when unknown.
func vendorName(manufacturer string) string {
	if len(manufacturer) != 11 || manufacturer[:3] != "id:" {
		return ""
	}
	return tcgVendors[manufacturer[3:]]
}
