// Package snptest is TEST-ONLY. It is an SEV-SNP guest without hardware:
// its attestation reports are signed by a certificate chain made with
// go-sev-guest's testing.AmdSigner, whose keys are fixed and public. No
// product binary links it (go-sev-guest's testing package imports
// "testing"); only _test.go files and the test-only agent under
// test/integration use it, and a server trusts its chain only when a test
// configures it to.
package snptest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	sevtest "github.com/google/go-sev-guest/testing"
	"github.com/google/go-sev-guest/verify/trust"
)

// Product is the product line of the test chain: Milan, whose VCEK
// certificates name their product ("Milan-B0").
const Product = "Milan"

// Chain is a test AMD certificate chain: ARK (root), ASK, and the VCEK of
// one test chip, whose private key is go-sev-guest's fixed test key.
type Chain struct {
	Ark, Ask, Vcek *x509.Certificate
	// TCB is the TCB the VCEK certifies (reports are signed at it).
	TCB kds.TCBParts
	// ChipID is the test chip's ID (the VCEK's hardware ID).
	ChipID [abi.ChipIDSize]byte
	key    *ecdsa.PrivateKey
}

// DefaultTCB is the TCB of NewChain's VCEK: a plausible Milan TCB.
var DefaultTCB = kds.TCBParts{BlSpl: 3, TeeSpl: 0, SnpSpl: 8, UcodeSpl: 115}

// NewChain makes a test chain created at now (valid for years from then:
// generated, so it never expires in a test) for a VCEK at tcb.
func NewChain(now time.Time, tcb kds.TCBParts) (*Chain, error) {
	return newChain(now, tcb, sevtest.DefaultAmdKeys())
}

// NewForeignChain makes a chain like NewChain's from fresh keys: an ARK no
// verifier trusts, standing for an attacker's own "AMD" chain.
func NewForeignChain(now time.Time, tcb kds.TCBParts) (*Chain, error) {
	keys := &sevtest.AmdKeys{}
	var err error
	for _, k := range []**rsa.PrivateKey{&keys.Ark, &keys.Ask, &keys.Asvk} {
		if *k, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			return nil, err
		}
	}
	if keys.Vcek, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader); err != nil {
		return nil, err
	}
	return newChain(now, tcb, keys)
}

func newChain(now time.Time, tcb kds.TCBParts, keys *sevtest.AmdKeys) (*Chain, error) {
	v, err := kds.ComposeTCBParts(tcb)
	if err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	var hwid [abi.ChipIDSize]byte
	for i := range hwid {
		hwid[i] = byte(i + 1)
	}
	b := &sevtest.AmdSignerBuilder{
		Keys:             keys,
		ProductName:      "Milan-B0",
		CSPID:            "",
		HWID:             hwid,
		TCB:              v,
		ArkCreationTime:  now,
		AskCreationTime:  now,
		AsvkCreationTime: now,
		VcekCreationTime: now,
		VlekCreationTime: now,
		// go-sev-guest's builder certifies a zero TCB and hardware ID unless
		// told otherwise.
		VcekCustom: sevtest.CertOverride{Extensions: sevtest.CustomExtensions(tcb, hwid[:], "", "Milan-B0")},
	}
	b.Keys.Vlek = nil
	s, err := b.TestOnlyCertChain()
	if err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	return &Chain{Ark: s.Ark, Ask: s.Ask, Vcek: s.Vcek, TCB: tcb, ChipID: hwid, key: s.Keys.Vcek}, nil
}

// CertChainPEM is the ASK then the ARK in PEM, the format of AMD KDS's
// cert_chain and of the sev_snp server's amd_cert_chains files.
func (c *Chain) CertChainPEM() []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Ask.Raw})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Ark.Raw})...)
}

// Roots are the chain's ARK and ASK as a verifier's trusted roots.
func (c *Chain) Roots() map[string][]*trust.AMDRootCerts {
	r := trust.AMDRootCertsProduct(Product)
	r.ProductCerts = &trust.ProductCerts{Ark: c.Ark, Ask: c.Ask}
	return map[string][]*trust.AMDRootCerts{Product: {r}}
}

// Write stores the chain in dir: cert_chain.pem (ASK, ARK) and vcek.pem.
// The VCEK key is go-sev-guest's fixed test key and is not written.
func (c *Chain) Write(dir string) error {
	if err := os.WriteFile(filepath.Join(dir, "cert_chain.pem"), c.CertChainPEM(), 0o644); err != nil {
		return err
	}
	vcek := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Vcek.Raw})
	return os.WriteFile(filepath.Join(dir, "vcek.pem"), vcek, 0o644)
}

// ReadChain reads a chain Write stored.
func ReadChain(dir string) (*Chain, error) {
	var certs []*x509.Certificate
	for _, name := range []string{"cert_chain.pem", "vcek.pem"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		for {
			var blk *pem.Block
			blk, b = pem.Decode(b)
			if blk == nil {
				break
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, err
			}
			certs = append(certs, c)
		}
	}
	if len(certs) != 3 {
		return nil, fmt.Errorf("snptest: %d certificates in %s, want 3", len(certs), dir)
	}
	exts, err := kds.VcekCertificateExtensions(certs[2])
	if err != nil {
		return nil, err
	}
	c := &Chain{Ask: certs[0], Ark: certs[1], Vcek: certs[2], TCB: kds.DecomposeTCBVersion(exts.TCBVersion), key: sevtest.DefaultAmdKeys().Vcek}
	copy(c.ChipID[:], exts.HWID)
	return c, nil
}

// Guest is a test confidential VM: it answers GetRawQuote (the agent's
// report provider interface, as go-sev-guest's client.QuoteProvider) with a
// report signed by the chain's VCEK.
type Guest struct {
	Chain *Chain
	// Measurement, HostData, ReportID, IDKeyDigest, AuthorKeyDigest and
	// GuestSVN go into every report.
	Measurement     [abi.MeasurementSize]byte
	HostData        [abi.HostDataSize]byte
	ReportID        [abi.ReportIDSize]byte
	IDKeyDigest     [abi.IDKeyDigestSize]byte
	AuthorKeyDigest [abi.AuthorKeyDigestSize]byte
	GuestSVN        uint32
	// Policy is the guest policy (NewGuest: SMT allowed, debug off).
	Policy abi.SnpPolicy
	// VMPL is the requester's privilege level.
	VMPL uint32
	// Tamper, when set, edits every report before it is signed.
	Tamper func(*spb.Report)

	mu    sync.Mutex
	Calls int
}

// NewGuest returns a guest of chain with a fixed measurement and the given
// report ID (one per test VM).
func NewGuest(chain *Chain, reportID byte) *Guest {
	g := &Guest{Chain: chain, Policy: abi.SnpPolicy{ABIMajor: 1, ABIMinor: 51, SMT: true}}
	for i := range g.Measurement {
		g.Measurement[i] = 0xA0 + byte(i%16)
	}
	for i := range g.ReportID {
		g.ReportID[i] = reportID
	}
	return g
}

// IsSupported is always true.
func (g *Guest) IsSupported() bool { return true }

// Product is the test chain's product.
func (g *Guest) Product() *spb.SevProduct { return abi.DefaultSevProduct() }

// GetRawQuote returns a signed report holding reportData, followed by the
// certificate table (ARK, ASK, VCEK) a guest's extended report carries.
func (g *Guest) GetRawQuote(reportData [64]byte) ([]byte, error) {
	g.mu.Lock()
	g.Calls++
	g.mu.Unlock()
	if g.Chain == nil || g.Chain.key == nil {
		return nil, errors.New("snptest: guest without a chain")
	}
	tcb, err := kds.ComposeTCBParts(g.Chain.TCB)
	if err != nil {
		return nil, err
	}
	r := &spb.Report{
		Version:         3,
		GuestSvn:        g.GuestSVN,
		Policy:          abi.SnpPolicyToBytes(g.Policy),
		FamilyId:        make([]byte, abi.FamilyIDSize),
		ImageId:         make([]byte, abi.ImageIDSize),
		Vmpl:            g.VMPL,
		SignatureAlgo:   abi.SignEcdsaP384Sha384,
		CurrentTcb:      uint64(tcb),
		SignerInfo:      abi.ComposeSignerInfo(abi.SignerInfo{SigningKey: abi.VcekReportSigner, AuthorKeyEn: g.AuthorKeyDigest != [48]byte{}}),
		ReportData:      reportData[:],
		Measurement:     g.Measurement[:],
		HostData:        g.HostData[:],
		IdKeyDigest:     g.IDKeyDigest[:],
		AuthorKeyDigest: g.AuthorKeyDigest[:],
		ReportId:        g.ReportID[:],
		ReportIdMa:      make([]byte, abi.ReportIDMASize),
		ReportedTcb:     uint64(tcb),
		Cpuid1EaxFms:    abi.FmsToCpuid1Eax(0x19, 0x01, 0x01),
		ChipId:          g.Chain.ChipID[:],
		CommittedTcb:    uint64(tcb),
		CurrentBuild:    21, CurrentMinor: 55, CurrentMajor: 1,
		CommittedBuild: 21, CommittedMinor: 55, CommittedMajor: 1,
		LaunchTcb: uint64(tcb),
		Signature: make([]byte, abi.SignatureSize),
	}
	if g.Tamper != nil {
		g.Tamper(r)
	}
	raw, err := abi.ReportToAbiBytes(r)
	if err != nil {
		return nil, fmt.Errorf("snptest: %w", err)
	}
	signer := &sevtest.AmdSigner{Keys: &sevtest.AmdKeys{Vcek: g.Chain.key}}
	rr, ss, err := signer.Sign(abi.SignedComponent(raw))
	if err != nil {
		return nil, fmt.Errorf("snptest: sign: %w", err)
	}
	if err := abi.SetSignature(rr, ss, raw); err != nil {
		return nil, err
	}
	table := abi.CertsFromProto(&spb.CertificateChain{ArkCert: g.Chain.Ark.Raw, AskCert: g.Chain.Ask.Raw, VcekCert: g.Chain.Vcek.Raw}).Marshal()
	return append(raw, table...), nil
}
