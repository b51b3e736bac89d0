package snpreport_test

import (
	"context"
	"testing"

	"github.com/hwattest/hwattest/pkg/snpreport"
)

// FuzzVerify: the verifier on arbitrary evidence (report and certificate
// table decoding, certificate parsing, signature, validation). It must not
// panic, every refusal must carry a Reason, and nothing but the recorded
// report may verify. Seeds: the real Milan evidence below and
// testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	v := milanVerifier(f)
	ev := milanEvidence(f)
	f.Add(ev)
	f.Add(ev[:snpreport.ReportSize])
	f.Add(ev[:snpreport.ReportSize+24])
	f.Fuzz(func(t *testing.T, evidence []byte) {
		res, err := v.Verify(context.Background(), evidence, snpreport.Exactly(milanReportData()))
		if err != nil {
			if snpreport.ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		if string(evidence[:snpreport.ReportSize]) != string(ev[:snpreport.ReportSize]) {
			t.Fatalf("a report other than the recorded one verified: %+v", res)
		}
	})
}
