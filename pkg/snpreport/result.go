package snpreport

import (
	"crypto/x509"
	"encoding/hex"
	"fmt"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
)

// Result is what a verified report establishes. Byte fields are copies.
type Result struct {
	// Version is the report format version (2, 3, 5...).
	Version uint32
	// Product is the AMD product line ("Milan", "Genoa", "Turin").
	Product string
	// Signer is the key that signed the report: "vcek" (per chip) or
	// "vlek" (per cloud provider).
	Signer string
	// Measurement is the 48-byte launch measurement of the VM's initial
	// memory (firmware, and what the VMM loaded with it).
	Measurement []byte
	// HostData is the 32 bytes the host set at launch.
	HostData []byte
	// IDKeyDigest and AuthorKeyDigest are the SHA-384 digests of the ID
	// block's keys (all zero without an ID block).
	IDKeyDigest, AuthorKeyDigest []byte
	// ReportID is the 32-byte ID the secure processor gave this guest at
	// launch: unique per VM, the same in every report of one launch.
	ReportID []byte
	// ChipID is the 64-byte ID of the host's processor (zero when masked).
	ChipID []byte
	// ReportData is the 64-byte REPORT_DATA (checked before this was made).
	ReportData []byte
	// Policy is the guest policy the VM was launched with.
	Policy abi.SnpPolicy
	// VMPL is the privilege level that asked for the report (0-3).
	VMPL uint32
	// GuestSVN is the guest's security version number (from its ID block).
	GuestSVN uint32
	// ReportedTCB is the TCB the report is signed at (the VCEK's TCB).
	ReportedTCB kds.TCBParts
	// CurrentTCB is the platform's running TCB.
	CurrentTCB kds.TCBParts
}

// IDKeyPresent reports whether the VM was launched with an ID block signed
// by an ID key.
func (r *Result) IDKeyPresent() bool { return !allZero(r.IDKeyDigest) }

// AuthorKeyPresent reports whether the ID key was signed by an author key.
func (r *Result) AuthorKeyPresent() bool { return !allZero(r.AuthorKeyDigest) }

// ReportIDHex is the report ID in lowercase hex.
func (r *Result) ReportIDHex() string { return hex.EncodeToString(r.ReportID) }

func newResult(att *spb.Attestation, info abi.SignerInfo) (*Result, error) {
	rep := att.GetReport()
	pol, err := abi.ParseSnpPolicy(rep.GetPolicy())
	if err != nil {
		return nil, refuse(ReasonMalformed, "guest policy: %w", err)
	}
	signer := "vcek"
	var der []byte = att.GetCertificateChain().GetVcekCert()
	if info.SigningKey == abi.VlekReportSigner {
		signer, der = "vlek", att.GetCertificateChain().GetVlekCert()
	}
	product := ""
	if fms := rep.GetCpuid1EaxFms(); fms != 0 {
		product = kds.ProductLineFromFms(fms)
	}
	if product == "" {
		if p, err := productFromCert(der, info.SigningKey); err == nil {
			product = p
		}
	}
	cp := func(b []byte) []byte { return append([]byte(nil), b...) }
	return &Result{
		Version:         rep.GetVersion(),
		Product:         product,
		Signer:          signer,
		Measurement:     cp(rep.GetMeasurement()),
		HostData:        cp(rep.GetHostData()),
		IDKeyDigest:     cp(rep.GetIdKeyDigest()),
		AuthorKeyDigest: cp(rep.GetAuthorKeyDigest()),
		ReportID:        cp(rep.GetReportId()),
		ChipID:          cp(rep.GetChipId()),
		ReportData:      cp(rep.GetReportData()),
		Policy:          pol,
		VMPL:            rep.GetVmpl(),
		GuestSVN:        rep.GetGuestSvn(),
		ReportedTCB:     kds.DecomposeTCBVersion(kds.TCBVersion(rep.GetReportedTcb())),
		CurrentTCB:      kds.DecomposeTCBVersion(kds.TCBVersion(rep.GetCurrentTcb())),
	}, nil
}

func productFromCert(der []byte, key abi.ReportSigner) (string, error) {
	cert, err := parseCert(der)
	if err != nil {
		return "", err
	}
	exts, err := kds.CertificateExtensions(cert, key)
	if err != nil {
		return "", err
	}
	p, err := kds.ParseProductName(exts.ProductName, key)
	if err != nil {
		return "", err
	}
	line := kds.ProductLine(p)
	if line == "" {
		return "", fmt.Errorf("unknown product %q", exts.ProductName)
	}
	return line, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func parseCert(der []byte) (*x509.Certificate, error) { return x509.ParseCertificate(der) }
