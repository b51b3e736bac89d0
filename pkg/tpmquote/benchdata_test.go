package tpmquote_test

import (
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// TestWriteBenchEvidence records one attestation made on the simulator with
// a 103-event boot log (ubuntu_2104, SHA-256 bank), for BenchmarkVerify.
// HWATTEST_WRITE_SEEDS=1 regenerates it.
func TestWriteBenchEvidence(t *testing.T) {
	if os.Getenv("HWATTEST_WRITE_SEEDS") != "1" {
		t.Skip("set HWATTEST_WRITE_SEEDS=1 to regenerate testdata/bench")
	}
	const name = "ubuntu_2104_shielded_vm_no_secure_boot_eventlog.bin"
	raw := readLog(t, name)
	// The recorded certificates never expire (tpmtest.NoExpiry), so the
	// evidence verifies on any later date.
	tpm := tpmtest.Simulator(t)
	ca := tpmtest.NewFixtureCA(t, "test EK CA")
	tpmtest.CertifyEKs(t, tpm, ca, "id:49465800", "SLB9670", "id:00070055")
	sim := &simTPM{tpm: tpm, ca: ca}
	tpmtest.ReplayEventLog(t, sim.tpm, raw, []tpm2.TPMAlgID{tpm2.TPMAlgSHA256}, 9)
	logPath := filepath.Join("testdata", "eventlogs", name)
	sel := tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}}
	v := sim.verifier(t, tpmquote.Options{PCRs: sel})
	s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: logPath})
	ch, session, err := v.Challenge(att)
	if err != nil {
		t.Fatal(err)
	}
	resp := respond(t, s, ch)
	if _, err := session.Verify(resp); err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(map[string]any{
		"roots":       string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: sim.ca.Cert.Raw})),
		"attestation": att,
		"challenge":   ch,
		"response":    resp,
	}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join("testdata", "bench"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join("testdata", "bench", "evidence.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
