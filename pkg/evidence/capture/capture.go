package capture

import (
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// Options configure a capture. The zero value captures the RSA EK, an ECC
// AK, sha256 PCRs 0-7 and the kernel's boot event log, with no EK CA.
type Options struct {
	// Address is recorded as the TPM's address in the file.
	Address string
	// EKAlgorithm and AKAlgorithm pick the keys (attester.Config).
	EKAlgorithm, AKAlgorithm attester.KeyAlgorithm
	// PCRs is the selection to quote; empty means tpmquote.DefaultPCRs.
	// Banks the TPM does not have are left out.
	PCRs tpmquote.PCRSelection
	// EventLogPath is the boot event log: "" means
	// attester.DefaultEventLogPath, "-" none; a missing file is none.
	EventLogPath string
	// IMALogPath is the IMA log: "" or "-" none; a missing file is none.
	IMALogPath string
	// Roots and Intermediates are the EK CAs the capture-time check reports
	// the EK certificate against. Any EK is captured: the file records
	// whether its certificate chained.
	Roots, Intermediates *x509.CertPool
	// Host is the host name recorded; "" means os.Hostname.
	Host string
	// Tool names the capturing tool in the file.
	Tool string
	// Now returns the capture time; nil means time.Now.
	Now func() time.Time
}

// Evidence captures evidence from tpm: it begins an attestation, challenges
// it with a fresh credential and nonce of its own, verifies the response
// (credential activation, quote, log replay) and returns the evidence file
// with the result of that capture-time verification.
//
// An error with a tpmquote Reason (tpmquote.ReasonOf) means the TPM's
// evidence did not verify at capture time, for example a boot log that does
// not replay to the quoted PCRs; any other error comes from the TPM or the
// logs.
func Evidence(tpm transport.TPM, opts Options) (*evidence.File, *tpmquote.Result, error) {
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	sel := opts.PCRs
	if len(sel) == 0 {
		sel = tpmquote.DefaultPCRs()
	}
	if err := sel.Validate(); err != nil {
		return nil, nil, fmt.Errorf("capture: %w", err)
	}
	evPath := opts.EventLogPath
	if evPath == "" {
		evPath = attester.DefaultEventLogPath
	}
	imaPath := opts.IMALogPath
	if imaPath == "-" {
		imaPath = ""
	}
	s, att, err := attester.Begin(tpm, attester.Config{
		EKAlgorithm:  opts.EKAlgorithm,
		AKAlgorithm:  opts.AKAlgorithm,
		EventLogPath: evPath,
		IMALogPath:   imaPath,
		PCRBanks:     sel.Banks(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("capture: %w", err)
	}
	defer s.Close()
	v, err := tpmquote.NewVerifier(tpmquote.Options{
		// Every EK is captured; whether its certificate chains to the given
		// CAs is recorded, and checked again by whoever verifies the file.
		EK: tpmquote.EKPolicy{
			Roots:         opts.Roots,
			Intermediates: opts.Intermediates,
			Require:       tpmquote.RequireHash,
			Listed:        func(string) bool { return true },
		},
		PCRs: sel,
		Now:  now,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("capture: %w", err)
	}
	ch, session, err := v.Challenge(att)
	if err != nil {
		return nil, nil, fmt.Errorf("capture: %w", err)
	}
	resp, err := s.Respond(ch)
	if err != nil {
		return nil, nil, fmt.Errorf("capture: %w", err)
	}
	captured := now().UTC()
	res, err := session.Verify(resp)
	if err != nil {
		return nil, nil, fmt.Errorf("capture: evidence does not verify at capture time: %w", err)
	}
	var checks []tpmquote.Check
	for _, c := range res.Checks {
		if c.Name != "ek.allowlist" { // every EK is listed for a capture
			checks = append(checks, c)
		}
	}
	res.EKListed = false
	host := opts.Host
	if host == "" {
		if host, err = os.Hostname(); err != nil {
			return nil, nil, fmt.Errorf("capture: host name: %w", err)
		}
	}
	f := &evidence.File{
		Format:         evidence.Format,
		Version:        evidence.Version,
		Statement:      evidence.Statement,
		Captured:       captured,
		Host:           host,
		TPM:            opts.Address,
		Tool:           opts.Tool,
		Attestation:    *att,
		Nonce:          ch.Nonce,
		PCRSelection:   ch.PCRs,
		Quote:          resp.Quote,
		QuoteSignature: resp.QuoteSignature,
		PCRs:           resp.PCRs,
		EventLog:       resp.EventLog,
		IMALog:         resp.IMALog,
		Capture:        evidence.Capture{CredentialActivated: true, Checks: checks},
	}
	if len(resp.EventLog) > 0 {
		f.EventLogPath = evPath
	}
	if len(resp.IMALog) > 0 {
		f.IMALogPath = imaPath
	}
	return f, res, nil
}
