package capture_test

import (
	"bytes"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/evidence"
	"github.com/hwattest/hwattest/pkg/evidence/capture"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

const secureBootLog = "../../tpmquote/testdata/eventlogs/keylime_binary_bios_measurements_secureboot.bin"

// simulator returns the reference simulator with EK certificates from a new
// test CA, and the CA as a pool.
func simulator(t *testing.T) (*x509.CertPool, transport.TPM) {
	t.Helper()
	sim := tpmtest.Simulator(t)
	ca := tpmtest.NewCA(t, "capture test EK CA")
	tpmtest.CertifyEKs(t, sim, ca, "id:49465800", "SLB9670", "id:00070055")
	return ca.Pool(), sim
}

func TestEvidence(t *testing.T) {
	pool, sim := simulator(t)
	raw, err := os.ReadFile(secureBootLog)
	if err != nil {
		t.Fatal(err)
	}
	tpmtest.ReplayEventLog(t, sim, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
	at := time.Now().UTC().Truncate(time.Second)
	f, res, err := capture.Evidence(sim, capture.Options{
		Address:      "simulator",
		EventLogPath: secureBootLog,
		Roots:        pool,
		Host:         "node-a",
		Tool:         "capture test",
		Now:          func() time.Time { return at },
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.Format != evidence.Format || f.Version != evidence.Version || f.Statement != evidence.Statement {
		t.Errorf("header %q %d %q", f.Format, f.Version, f.Statement)
	}
	if f.Host != "node-a" || f.TPM != "simulator" || f.Tool != "capture test" || !f.Captured.Equal(at) {
		t.Errorf("facts %q %q %q %v", f.Host, f.TPM, f.Tool, f.Captured)
	}
	if !f.Capture.CredentialActivated || f.EventLogPath != secureBootLog || !bytes.Equal(f.EventLog, raw) {
		t.Errorf("capture %+v, log path %q", f.Capture, f.EventLogPath)
	}
	for _, c := range f.Capture.Checks {
		if !c.Passed || c.Name == "ek.allowlist" {
			t.Errorf("capture check %+v", c)
		}
	}
	if res.Boot == nil || !res.Boot.SecureBoot.Enabled || !res.EKCertVerified || res.EKListed {
		t.Errorf("capture-time result: boot %+v, EK verified %v, listed %v", res.Boot, res.EKCertVerified, res.EKListed)
	}

	b, err := f.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := evidence.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	got, err := back.Verify(evidence.Options{EK: tpmquote.EKPolicy{Roots: pool}})
	if err != nil {
		t.Fatal(err)
	}
	if got.EKHash != res.EKHash || got.Boot.Events != res.Boot.Events || got.Status != tpmquote.StatusWarning {
		t.Errorf("offline result %s %d %s, capture %s %d", got.EKHash, got.Boot.Events, got.Status, res.EKHash, res.Boot.Events)
	}
}

// TestEvidenceDrift: a PCR extended outside the boot log makes the log fail
// to replay, and the capture says so with tpmquote's reason.
func TestEvidenceDrift(t *testing.T) {
	pool, sim := simulator(t)
	raw, err := os.ReadFile(secureBootLog)
	if err != nil {
		t.Fatal(err)
	}
	tpmtest.ReplayEventLog(t, sim, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 7)
	tpmtest.ExtendPCR(t, sim, tpm2.TPMAlgSHA256, 7, bytes.Repeat([]byte{7}, 32))
	_, _, err = capture.Evidence(sim, capture.Options{EventLogPath: secureBootLog, Roots: pool})
	if tpmquote.ReasonOf(err) != tpmquote.ReasonEventLog {
		t.Fatalf("err = %v, want reason %s", err, tpmquote.ReasonEventLog)
	}
}

func TestEvidenceOptions(t *testing.T) {
	_, sim := simulator(t)
	// No CA: the EK is captured, its certificate reported as not trusted.
	f, res, err := capture.Evidence(sim, capture.Options{
		EventLogPath: filepath.Join(t.TempDir(), "missing"),
		IMALogPath:   "-",
		PCRs:         tpmquote.PCRSelection{tpmquote.SHA256: {0, 7}, tpmquote.SHA1: {0}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.EKCertVerified || f.Capture.Checks[0].Name != "ek.certificate" || f.Capture.Checks[0].Passed {
		t.Errorf("EK verified %v, checks %+v", res.EKCertVerified, f.Capture.Checks)
	}
	if len(f.EventLog) != 0 || f.EventLogPath != "" || f.PCRSelection.String() != "sha1:0 sha256:0,7" {
		t.Errorf("log %d bytes at %q, selection %s", len(f.EventLog), f.EventLogPath, f.PCRSelection)
	}
	if f.Host == "" {
		t.Error("no host name")
	}
	_, _, err = capture.Evidence(sim, capture.Options{PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {24}}})
	if err == nil || err.Error() != "capture: tpmquote: PCR selection: PCR 24 out of range 0..23" {
		t.Errorf("err = %v", err)
	}
}
