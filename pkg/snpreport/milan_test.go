package snpreport_test

import (
	"context"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/google/go-sev-guest/abi"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify/testdata"

	"github.com/hwattest/hwattest/pkg/snpreport"
)

// milanTime is a fixed time inside the recorded VCEK's validity
// (2022-09-24 to 2029-09-24), so the test never expires.
var milanTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// milanEvidence is go-sev-guest's recorded report of a real Milan VM
// (verify/testdata/attestation.bin) followed by a certificate table holding
// its real VCEK certificate, as a guest's extended report carries it.
func milanEvidence(t testing.TB) []byte {
	t.Helper()
	table := abi.CertsFromProto(&spb.CertificateChain{VcekCert: testdata.VcekBytes}).Marshal()
	return append(append([]byte(nil), testdata.AttestationBytes...), table...)
}

// milanReportData is the report data the recorded report was made with.
func milanReportData() []byte {
	rd := make([]byte, 64)
	copy(rd, []byte{1, 2, 3, 4, 5})
	return rd
}

func milanVerifier(t testing.TB) *snpreport.Verifier {
	t.Helper()
	v, err := snpreport.NewVerifier(snpreport.Options{Now: func() time.Time { return milanTime }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRealMilanReport verifies a real Milan report against AMD's embedded
// roots, offline, with its recorded report data.
func TestRealMilanReport(t *testing.T) {
	res, err := milanVerifier(t).Verify(context.Background(), milanEvidence(t), snpreport.Exactly(milanReportData()))
	if err != nil {
		t.Fatal(err)
	}
	if res.Product != "Milan" || res.Signer != "vcek" || res.Version != 2 {
		t.Errorf("product %q signer %q version %d", res.Product, res.Signer, res.Version)
	}
	// The recorded VM was launched with debug on (policy 0x0b0000).
	if !res.Policy.Debug || !res.Policy.SMT || res.Policy.MigrateMA {
		t.Errorf("policy %+v", res.Policy)
	}
	if len(res.Measurement) != 48 || hex.EncodeToString(res.Measurement) == strings.Repeat("00", 48) {
		t.Errorf("measurement %x", res.Measurement)
	}
	t.Logf("measurement %x reported TCB %+v", res.Measurement, res.ReportedTCB)
}

// TestRealMilanReportChanged refuses the real report with any one of
// several single bytes changed: in the signed body, in the signature, in the
// report data, and the report data check itself.
func TestRealMilanReportChanged(t *testing.T) {
	v := milanVerifier(t)
	for _, tc := range []struct {
		name   string
		offset int
		want   snpreport.Reason
	}{
		{"measurement byte", 0x90, snpreport.ReasonSignature},
		{"report data byte", 0x50, snpreport.ReasonSignature},
		{"host data byte", 0xC0, snpreport.ReasonSignature},
		{"signature byte", 0x2A0, snpreport.ReasonSignature},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev := milanEvidence(t)
			ev[tc.offset] ^= 1
			_, err := v.Verify(context.Background(), ev, snpreport.Exactly(milanReportData()))
			if snpreport.ReasonOf(err) != tc.want {
				t.Fatalf("Verify = %v, want reason %s", err, tc.want)
			}
		})
	}
	t.Run("other report data expected", func(t *testing.T) {
		want := milanReportData()
		want[0] = 9
		_, err := v.Verify(context.Background(), milanEvidence(t), snpreport.Exactly(want))
		if snpreport.ReasonOf(err) != snpreport.ReasonReportData || err.Error() != "snpreport: report data is not the expected value" {
			t.Fatalf("Verify = %v", err)
		}
	})
}
