package cli

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/go-attestation/oid"
	x509ext "github.com/google/go-attestation/x509"
	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// ekReport is the output of `hwattest ek`, also its --json form.
type ekReport struct {
	// EKHash is the hex SHA-256 of the PKIX DER EK public key.
	EKHash string `json:"ek_hash"`
	// AgentID is the agent's SPIFFE ID, with --trust-domain only.
	AgentID string `json:"agent_id,omitempty"`
	// AgentIDPath is the path of the agent ID in every trust domain.
	AgentIDPath string `json:"agent_id_path"`
	// Selector is the SPIRE selector every attestation of this TPM gives.
	Selector string `json:"selector"`
	// Key describes the EK: "RSA 2048", "ECC P-384".
	Key string `json:"key"`
	// Certificate is the EK certificate, nil when the TPM has none.
	Certificate *ekCertificate `json:"certificate"`
	// Reported are the TPM's self-reported properties (not verified).
	Reported tpmquote.TPMInfo `json:"reported"`
	// EKs are every EK of the TPM an agent could attest with: the EK of
	// each algorithm ReadEK finds and the key of every EK certificate in NV.
	// Each is an agent ID of its own; revoking the machine takes denying
	// every one.
	EKs []listedEK `json:"eks"`
}

// listedEK is one EK of the TPM.
type listedEK struct {
	// KeyType is the EK's type as the server's ek_algorithms names it
	// ("rsa-2048", "ecc-p384").
	KeyType string `json:"key_type"`
	// EKHash is the hex SHA-256 of the PKIX DER EK public key.
	EKHash string `json:"ek_hash"`
	// NVIndex is the certificate's NV index ("0x01c00002"), empty without
	// a certificate.
	NVIndex string `json:"nv_index,omitempty"`
	// CertificateID is the certificate as the server's deny_ek_certificates
	// names it ("<issuer DN>/<serial in hex>"), empty without one.
	CertificateID string `json:"certificate_id,omitempty"`
	// AcceptedByDefault is true when the server's default ek_algorithms
	// accepts this EK's key type.
	AcceptedByDefault bool `json:"accepted_by_default"`
}

type ekCertificate struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
	Serial  string `json:"serial"`
	// ID is the certificate as the server's deny_ek_certificates names it:
	// "<issuer DN>/<serial in hex>".
	ID        string    `json:"id"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// Manufacturer, ManufacturerName, Model and Version are the TPM
	// properties certified in the certificate's subject alternative name.
	Manufacturer     string `json:"tpm_manufacturer,omitempty"`
	ManufacturerName string `json:"tpm_manufacturer_name,omitempty"`
	Model            string `json:"tpm_model,omitempty"`
	Version          string `json:"tpm_version,omitempty"`
	// Validated is true when the certificate chains to the CAs checked.
	Validated bool `json:"validated"`
	// CAs describes the CAs the certificate was checked against.
	CAs string `json:"checked_against"`
	// Chain is the validated chain's subjects, leaf first.
	Chain []string `json:"chain,omitempty"`
	// Error is why the certificate did not validate.
	Error string `json:"error,omitempty"`
}

func ekCommand() *command {
	return &command{
		name:    "ek",
		summary: "show this machine's EK as SPIRE will see it, and whether vendor CAs validate it",
		usage:   "ek [--tpm ADDR] [--trust-domain TD] [--json]",
		help: `Reads the TPM's endorsement key (EK) and its certificate, and shows:
  - the EK hash: the hex SHA-256 of the EK public key (PKIX DER), which SPIRE
    puts in the agent ID spiffe://<trust domain>/spire/agent/tpm/<hash> and
    the selector tpm:pub_hash:<hash> (the same as spiffe/spire-tpm-plugin);
    enrol a TPM without a vendor certificate by listing this hash in the
    server plugin's ek_hash_paths;
  - the EK certificate's subject, issuer, validity and the TPM manufacturer,
    model and firmware version it certifies;
  - whether the certificate chains to the TPM vendor CAs built into hwattest
    (and any --ek-ca), as the server plugin with bundled_ek_cas checks it;
  - what the TPM reports about itself (not verified);
  - every EK of the TPM: the EK of each algorithm and the key of every EK
    certificate in NV, each with its key type (as the server plugin's
    ek_algorithms names it), hash and certificate (issuer DN/serial in hex,
    as the plugin's deny_ek_certificates names it). Each EK is an agent ID
    of its own: to revoke the machine, deny every one ("revoke with").
It creates no key and changes nothing in the TPM.`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			addr := fs.String("tpm", attester.DefaultAddress, "the TPM `ADDR`ess: /dev/tpmrm0, /dev/tpm0, swtpm://host:port or swtpm+unix:///path")
			alg := fs.String("ek-algorithm", "rsa", "the EK to read, `ALG`: rsa (what the agent uses by default) or ecc")
			td := fs.String("trust-domain", "", "the SPIRE trust `DOMAIN`, to print the full agent ID")
			asJSON := fs.Bool("json", false, "print JSON")
			var trust trustFlags
			trust.register(fs, false)
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected argument %q", args[0])
				}
				return runEK(e, *addr, attester.KeyAlgorithm(*alg), *td, *asJSON, &trust)
			}
		},
	}
}

func runEK(e *env, addr string, alg attester.KeyAlgorithm, trustDomain string, asJSON bool, trust *trustFlags) error {
	if alg != attester.RSA && alg != attester.ECC {
		return usageErrorf("--ek-algorithm %q: want rsa or ecc", alg)
	}
	var td spiffeid.TrustDomain
	if trustDomain != "" {
		var err error
		if td, err = spiffeid.TrustDomainFromString(trustDomain); err != nil {
			return usageErrorf("--trust-domain %q: %w", trustDomain, err)
		}
	}
	roots, inter, desc, err := trust.pools()
	if err != nil {
		return err
	}
	t, err := openTPM(addr)
	if err != nil {
		return err
	}
	defer t.Close()
	ek, err := attester.ReadEK(t, alg)
	if err != nil {
		return tpmErrorf("%w", err)
	}
	info, err := attester.ReadInfo(t)
	if err != nil {
		return tpmErrorf("%w", err)
	}
	eks, err := listEKs(t)
	if err != nil {
		return tpmErrorf("%w", err)
	}
	pub := tpm2.Marshal(*ek.Public)
	// Any EK is read; its certificate is reported against the CAs.
	verified, err := tpmquote.VerifyEK(ek.Certificate, pub, tpmquote.EKPolicy{
		Roots: roots, Intermediates: inter,
		Require: tpmquote.RequireHash, Listed: func(string) bool { return true },
	})
	if err != nil {
		return failedf("the TPM's EK is not usable: %w", err)
	}
	r := &ekReport{
		EKHash:   verified.Hash,
		Selector: tpm.PluginName + ":pub_hash:" + verified.Hash,
		Key:      keyDescription(verified.Public),
		Reported: info,
		EKs:      eks,
	}
	id, err := tpm.AgentID(spiffeid.RequireTrustDomainFromString("example.org"), verified.Hash)
	if err != nil {
		return err
	}
	r.AgentIDPath = id.Path()
	if trustDomain != "" {
		r.AgentID = spiffeid.RequireFromPath(td, id.Path()).String()
	}
	if c := verified.Certificate; c != nil {
		r.Certificate = &ekCertificate{
			Subject:   c.Subject.String(),
			Issuer:    c.Issuer.String(),
			Serial:    c.SerialNumber.String(),
			ID:        tpm.EKCertificateID(c),
			NotBefore: c.NotBefore.UTC(),
			NotAfter:  c.NotAfter.UTC(),
			Validated: verified.CertVerified,
			CAs:       desc,
		}
		r.Certificate.Manufacturer, r.Certificate.Model, r.Certificate.Version = certifiedTPM(c)
		r.Certificate.ManufacturerName = tpmquote.VendorName(r.Certificate.Manufacturer)
		if verified.CertVerified {
			for _, cert := range verified.Chain {
				r.Certificate.Chain = append(r.Certificate.Chain, cert.Subject.String())
			}
		} else {
			_, err := tpmquote.VerifyEK(ek.Certificate, pub, tpmquote.EKPolicy{Roots: roots, Intermediates: inter})
			if err != nil {
				r.Certificate.Error = strings.TrimPrefix(err.Error(), "tpmquote: ")
			}
		}
	}
	if asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	printEK(e, r)
	return nil
}

func printEK(e *env, r *ekReport) {
	w := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "EK hash\t%s\n", r.EKHash)
	if r.AgentID != "" {
		fmt.Fprintf(w, "agent ID\t%s\n", r.AgentID)
	} else {
		fmt.Fprintf(w, "agent ID\tspiffe://<trust domain>%s (give --trust-domain for the full ID)\n", r.AgentIDPath)
	}
	fmt.Fprintf(w, "selector\t%s\n", r.Selector)
	fmt.Fprintf(w, "EK key\t%s\n", r.Key)
	if c := r.Certificate; c != nil {
		subject := c.Subject
		if subject == "" {
			subject = "(empty, as TCG EK certificates have)"
		}
		fmt.Fprintf(w, "certificate\tsubject %s\n", subject)
		fmt.Fprintf(w, "\tissuer %s\n", c.Issuer)
		fmt.Fprintf(w, "\tserial %s\n", c.Serial)
		fmt.Fprintf(w, "\tvalid %s to %s\n", c.NotBefore.Format(time.RFC3339), c.NotAfter.Format(time.RFC3339))
		if c.Manufacturer != "" {
			name := ""
			if c.ManufacturerName != "" {
				name = " (" + c.ManufacturerName + ")"
			}
			fmt.Fprintf(w, "certified TPM\tmanufacturer %s%s, model %s, firmware version %s\n", c.Manufacturer, name, c.Model, c.Version)
		}
		if c.Validated {
			fmt.Fprintf(w, "validated\tyes, against %s: %s\n", c.CAs, strings.Join(c.Chain, " <- "))
		} else {
			fmt.Fprintf(w, "validated\tNO, against %s: %s\n", c.CAs, c.Error)
			fmt.Fprintf(w, "\t(trust its CA with the plugin's ek_ca_paths, or enrol the EK hash with ek_hash_paths)\n")
		}
	} else {
		fmt.Fprintf(w, "certificate\tnone: the TPM holds no EK certificate; enrol the EK hash with the plugin's ek_hash_paths\n")
	}
	fmt.Fprintf(w, "TPM reports\tmanufacturer %q, vendor %q, firmware %s (self-reported, not verified)\n",
		r.Reported.Manufacturer, r.Reported.VendorString, r.Reported.FirmwareVersion)
	var hashes, certs []string
	for i, ek := range r.EKs {
		label := ""
		if i == 0 {
			label = "every EK"
		}
		cert := "no certificate"
		if ek.CertificateID != "" {
			cert = "certificate " + ek.CertificateID + " (NV " + ek.NVIndex + ")"
			certs = append(certs, strconv.Quote(ek.CertificateID))
		}
		if !ek.AcceptedByDefault {
			cert += ", accepted only if the server's ek_algorithms lists " + ek.KeyType
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", label, ek.KeyType, ek.EKHash, cert)
		hashes = append(hashes, strconv.Quote(ek.EKHash))
	}
	fmt.Fprintf(w, "revoke with\tdeny_ek_hashes = [%s]\n", strings.Join(hashes, ", "))
	if len(certs) > 0 {
		fmt.Fprintf(w, "\tdeny_ek_certificates = [%s]\n", strings.Join(certs, ", "))
	}
	w.Flush()
}

// listEKs returns every EK of the TPM an agent could attest with: the EK
// ReadEK finds for each algorithm (with or without a certificate), and the
// key of every EK certificate in NV; one entry per key, sorted by the
// certificate's NV index, EKs without a certificate last.
func listEKs(t transport.TPM) ([]listedEK, error) {
	var out []listedEK
	seen := map[string]int{}
	add := func(key crypto.PublicKey, index uint32, cert *x509.Certificate) error {
		der, err := x509.MarshalPKIXPublicKey(key)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(der)
		hash := hex.EncodeToString(sum[:])
		if _, ok := seen[hash]; ok {
			return nil
		}
		l := listedEK{KeyType: tpm.EKAlgorithm(key), EKHash: hash}
		if l.KeyType == "" {
			l.KeyType = keyDescription(key)
		}
		l.AcceptedByDefault = slices.Contains(tpm.DefaultEKAlgorithms, l.KeyType)
		if cert != nil {
			l.CertificateID, l.NVIndex = tpm.EKCertificateID(cert), fmt.Sprintf("0x%08x", index)
		}
		seen[hash] = len(out)
		out = append(out, l)
		return nil
	}
	certs, err := attester.EKCertificates(t)
	if err != nil {
		return nil, err
	}
	for _, c := range certs {
		cert, err := x509.ParseCertificate(c.Certificate)
		if err != nil || cert.PublicKey == nil {
			continue // not a certificate a verifier accepts
		}
		if err := add(cert.PublicKey, c.Index, cert); err != nil {
			return nil, err
		}
	}
	for _, alg := range []attester.KeyAlgorithm{attester.RSA, attester.ECC} {
		ek, err := attester.ReadEK(t, alg)
		if err != nil {
			continue // no EK of this algorithm (a TPM without ECC)
		}
		// Its certificate, if any, is one of those above.
		if err := add(ek.Key, 0, nil); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// keyDescription names a public key's algorithm and size.
func keyDescription(k crypto.PublicKey) string {
	switch k := k.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECC " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", k)
}

// certifiedTPM reads the TPM manufacturer, model and version from an EK
// certificate's subject alternative name (TCG EK Credential Profile 3.2.9),
// whether or not the certificate validated. Empty when absent.
func certifiedTPM(c *x509.Certificate) (manufacturer, model, version string) {
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(asn1.ObjectIdentifier(oid.SubjectAltName)) {
			continue
		}
		san, err := x509ext.ParseSubjectAltName(ext)
		if err != nil {
			return "", "", ""
		}
		for _, dn := range san.DirectoryNames {
			for _, attr := range dn.Names {
				v, _ := attr.Value.(string)
				switch {
				case attr.Type.Equal(asn1.ObjectIdentifier(oid.TPMManufacturer)):
					manufacturer = v
				case attr.Type.Equal(asn1.ObjectIdentifier(oid.TPMModel)):
					model = v
				case attr.Type.Equal(asn1.ObjectIdentifier(oid.TPMVersion)):
					version = v
				}
			}
		}
	}
	return manufacturer, model, version
}
