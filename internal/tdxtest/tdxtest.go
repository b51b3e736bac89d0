package tdxtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/google/go-tdx-guest/abi"
	"github.com/google/go-tdx-guest/pcs"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The names go-tdx-guest's verifier requires of the three certificates
// (it compares subject common names, so the test chain must use them).
const (
	rootName     = "Intel SGX Root CA"
	platformName = "Intel SGX PCK Platform CA"
	pckName      = "Intel SGX PCK Certificate"
)

// Values the test PCK certificate and QE report carry. fmspc and PCE-ID
// are those of a Sapphire Rapids platform; the SVNs are plausible.
var (
	fmspc     = []byte{0x00, 0x80, 0x6f, 0x05, 0x00, 0x00}
	pceID     = []byte{0x00, 0x00}
	pceSVN    = uint16(11)
	cpuSVN    = [16]byte{3, 3, 2, 2, 2, 1, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0}
	qeSVN     = uint16(8)
	qeVendor  = []byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07} // Intel's QE vendor ID
	sgxOIDArc = []int{1, 2, 840, 113741, 1, 13, 1}
)

// validity is how long the generated certificates are valid from their
// creation time: a test generates its chain, so it never expires.
const validity = 10 * 365 * 24 * time.Hour

// Chain is a test PCK certificate chain and the PCK leaf's key.
type Chain struct {
	Root, Platform, PCK *x509.Certificate
	pckKey              *ecdsa.PrivateKey
}

// NewChain makes a chain whose certificates are valid from an hour before
// now for ten years.
func NewChain(now time.Time) (*Chain, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	platformKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pckKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	sgx, err := sgxExtension()
	if err != nil {
		return nil, err
	}
	tmpl := func(serial int64, cn string, ca bool) *x509.Certificate {
		c := &x509.Certificate{
			SerialNumber:          big.NewInt(serial),
			Subject:               pkix.Name{CommonName: cn, Organization: []string{"hwattest test-only"}},
			NotBefore:             now.Add(-time.Hour),
			NotAfter:              now.Add(validity),
			BasicConstraintsValid: true,
			IsCA:                  ca,
			SignatureAlgorithm:    x509.ECDSAWithSHA256,
			SubjectKeyId:          []byte{byte(serial), 0x7d, 0x78},
			CRLDistributionPoints: []string{"https://tdxtest.invalid/crl"},
		}
		if ca {
			c.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		} else {
			c.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		}
		return c
	}
	root, err := issue(tmpl(1, rootName, true), nil, &rootKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	platform, err := issue(tmpl(2, platformName, true), root, &platformKey.PublicKey, rootKey)
	if err != nil {
		return nil, err
	}
	// go-tdx-guest's pcs wants exactly six extensions on a PCK leaf, as
	// Intel issues it: authority and subject key IDs, CRL distribution
	// points, key usage, basic constraints and the SGX extension.
	leaf := tmpl(3, pckName, false)
	leaf.ExtraExtensions = []pkix.Extension{{Id: pcs.OidSgxExtension, Value: sgx}}
	pck, err := issue(leaf, platform, &pckKey.PublicKey, platformKey)
	if err != nil {
		return nil, err
	}
	return &Chain{Root: root, Platform: platform, PCK: pck, pckKey: pckKey}, nil
}

func issue(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("tdxtest: %s: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

// sgxExtension encodes the PCK certificate's SGX extension (OID
// 1.2.840.113741.1.13.1): a sequence of (OID, value) pairs. Written by hand
// because go-tdx-guest's pcs only parses it and no maintained Go library
// encodes it; the layout is Intel's "SGX PCK Certificate and CRL
// Profile", as pcs.PckCertificateExtensions reads it.
func sgxExtension() ([]byte, error) {
	oid := func(sub ...int) []int { return append(append([]int(nil), sgxOIDArc...), sub...) }
	var b cryptobyte.Builder
	pair := func(b *cryptobyte.Builder, id []int, value func(*cryptobyte.Builder)) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(id)
			value(b)
		})
	}
	octets := func(v []byte) func(*cryptobyte.Builder) {
		return func(b *cryptobyte.Builder) { b.AddASN1OctetString(v) }
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		pair(b, oid(1), octets(make([]byte, 16)))     // PPID
		pair(b, oid(2), func(b *cryptobyte.Builder) { // TCB
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for i, svn := range cpuSVN { // SGX TCB components 1..16
					pair(b, oid(2, i+1), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(svn)) })
				}
				pair(b, oid(2, 17), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(pceSVN)) })
				pair(b, oid(2, 18), octets(cpuSVN[:]))
			})
		})
		pair(b, oid(3), octets(pceID))
		pair(b, oid(4), octets(fmspc))
		pair(b, oid(5), func(b *cryptobyte.Builder) { b.AddASN1Enum(0) }) // SGX type: Standard
	})
	return b.Bytes()
}

// RootPEM is the root certificate in PEM (a server's intel_root_path).
func (c *Chain) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Root.Raw})
}

// chainPEM is the PCK certificate chain a quote carries: leaf, platform
// CA, root.
func (c *Chain) chainPEM() []byte {
	var out []byte
	for _, cert := range []*x509.Certificate{c.PCK, c.Platform, c.Root} {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	}
	return out
}

// Write stores the chain in dir: root.pem (for intel_root_path),
// chain.pem (leaf, platform CA, root) and pck-key.pem, the PCK leaf's
// private key (a test key: a test agent in another process signs with it).
func (c *Chain) Write(dir string) error {
	der, err := x509.MarshalECPrivateKey(c.pckKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"root.pem":    c.RootPEM(),
		"chain.pem":   c.chainPEM(),
		"pck-key.pem": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ReadChain reads a chain Write stored.
func ReadChain(dir string) (*Chain, error) {
	b, err := os.ReadFile(filepath.Join(dir, "chain.pem"))
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for blk, rest := pem.Decode(b); blk != nil; blk, rest = pem.Decode(rest) {
		cert, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, cert)
	}
	if len(certs) != 3 {
		return nil, fmt.Errorf("tdxtest: %d certificates in chain.pem, want 3", len(certs))
	}
	b, err = os.ReadFile(filepath.Join(dir, "pck-key.pem"))
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("tdxtest: pck-key.pem: no PEM block")
	}
	key, err := x509.ParseECPrivateKey(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return &Chain{PCK: certs[0], Platform: certs[1], Root: certs[2], pckKey: key}, nil
}

// Guest is a test trust domain: GetRawQuote returns a quote of its
// measurements and the given REPORT_DATA.
type Guest struct {
	Chain *Chain
	// MRTD, RTMRs, MRSeam, MRConfigID, MROwner and MROwnerConfig go into
	// every quote.
	MRTD, MRSeam, MRConfigID, MROwner, MROwnerConfig [abi.MrTdSize]byte
	RTMRs                                            [4][abi.RtmrSize]byte
	// TDAttributes: bit 0 of byte 0 is DEBUG (the host can read the TD).
	TDAttributes [abi.TdAttributesSize]byte
	XFAM         [abi.XfamSize]byte
	TeeTCBSVN    [abi.TeeTcbSvnSize]byte
	// attKey is the quoting enclave's attestation key for this guest.
	attKey *ecdsa.PrivateKey
}

// NewGuest returns a guest of chain with fixed measurements (MRTD bytes
// 0xB0.., RTMRn bytes n) and debug off.
func NewGuest(chain *Chain) (*Guest, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	g := &Guest{Chain: chain, attKey: k, XFAM: [8]byte{0xe7, 0x02, 0x06}, TeeTCBSVN: [16]byte{5, 1, 2}}
	for i := range g.MRTD {
		g.MRTD[i] = 0xB0 + byte(i%16)
		g.MRSeam[i] = 0x5E
		for r := range g.RTMRs {
			g.RTMRs[r][i] = byte(r)
		}
	}
	return g, nil
}

// GetRawQuote returns a version 4 quote over reportData, signed as a TD's
// quoting enclave signs it.
func (g *Guest) GetRawQuote(reportData [64]byte) ([]byte, error) {
	if g.Chain == nil || g.Chain.pckKey == nil || g.attKey == nil {
		return nil, errors.New("tdxtest: guest without a chain (use NewGuest)")
	}
	header := &pb.Header{
		Version: abi.QuoteVersion, AttestationKeyType: abi.AttestationKeyType, TeeType: abi.TeeTDX,
		PceSvn: le16(pceSVN), QeSvn: le16(qeSVN), QeVendorId: qeVendor, UserData: make([]byte, 20),
	}
	body := &pb.TDQuoteBody{
		TeeTcbSvn: g.TeeTCBSVN[:], MrSeam: g.MRSeam[:], MrSignerSeam: make([]byte, 48), SeamAttributes: make([]byte, 8),
		TdAttributes: g.TDAttributes[:], Xfam: g.XFAM[:], MrTd: g.MRTD[:], MrConfigId: g.MRConfigID[:],
		MrOwner: g.MROwner[:], MrOwnerConfig: g.MROwnerConfig[:], ReportData: reportData[:],
	}
	for i := range g.RTMRs {
		body.Rtmrs = append(body.Rtmrs, g.RTMRs[i][:])
	}
	hb, err := abi.HeaderToAbiBytes(header)
	if err != nil {
		return nil, fmt.Errorf("tdxtest: %w", err)
	}
	bb, err := abi.TdQuoteBodyToAbiBytes(body)
	if err != nil {
		return nil, fmt.Errorf("tdxtest: %w", err)
	}
	quoteSig, err := sign(g.attKey, append(hb, bb...))
	if err != nil {
		return nil, err
	}
	ecdhKey, err := g.attKey.PublicKey.ECDH()
	if err != nil {
		return nil, err
	}
	attPub := ecdhKey.Bytes()[1:] // X || Y, without the 0x04 prefix
	qeAuth := make([]byte, 32)
	for i := range qeAuth {
		qeAuth[i] = byte(i)
	}
	binding := sha256.Sum256(append(append([]byte(nil), attPub...), qeAuth...))
	qeReport := &pb.EnclaveReport{
		CpuSvn: cpuSVN[:], Reserved1: make([]byte, 28), Attributes: append([]byte{0x11}, make([]byte, 15)...),
		MrEnclave: make([]byte, 32), Reserved2: make([]byte, 32), MrSigner: make([]byte, 32), Reserved3: make([]byte, 96),
		IsvProdId: 2, IsvSvn: uint32(qeSVN), Reserved4: make([]byte, 60), ReportData: append(binding[:], make([]byte, 32)...),
	}
	qeRaw, err := abi.EnclaveReportToAbiBytes(qeReport)
	if err != nil {
		return nil, fmt.Errorf("tdxtest: %w", err)
	}
	qeSig, err := sign(g.Chain.pckKey, qeRaw)
	if err != nil {
		return nil, err
	}
	chain := g.Chain.chainPEM()
	// abi encodes every structure but leaves the two length fields to the
	// caller: the certification data (QE report 0x180, its signature 0x40,
	// the auth data with its 2-byte length, the PCK chain with its 6-byte
	// header) and the signed data (quote signature and attestation key 0x80,
	// the certification data with its 6-byte header).
	certSize := 0x180 + 0x40 + 2 + len(qeAuth) + 6 + len(chain)
	quote := &pb.QuoteV4{
		Header: header, TdQuoteBody: body, SignedDataSize: uint32(0x80 + 6 + certSize),
		SignedData: &pb.Ecdsa256BitQuoteV4AuthData{
			Signature: quoteSig, EcdsaAttestationKey: attPub,
			CertificationData: &pb.CertificationData{
				CertificateDataType: 6, Size: uint32(certSize),
				QeReportCertificationData: &pb.QEReportCertificationData{
					QeReport: qeReport, QeReportSignature: qeSig,
					QeAuthData:              &pb.QeAuthData{ParsedDataSize: uint32(len(qeAuth)), Data: qeAuth},
					PckCertificateChainData: &pb.PCKCertificateChainData{CertificateDataType: 5, Size: uint32(len(chain)), PckCertChain: chain},
				},
			},
		},
	}
	raw, err := abi.QuoteToAbiBytes(quote)
	if err != nil {
		return nil, fmt.Errorf("tdxtest: %w", err)
	}
	return raw, nil
}

// sign returns the ECDSA P-256 signature over SHA-256(msg) in the quote's
// format, r || s, 32 bytes each (abi only converts that format to DER).
func sign(k *ecdsa.PrivateKey, msg []byte) ([]byte, error) {
	d := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, k, d[:])
	if err != nil {
		return nil, fmt.Errorf("tdxtest: sign: %w", err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

func le16(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
