package snpreport_test

import (
	"context"
	"crypto/x509"
	"testing"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/verify/testdata"
	"github.com/google/go-sev-guest/verify/trust"

	"github.com/hwattest/hwattest/pkg/snpreport"
)

// BenchmarkVerify measures one whole server-side verification of the real
// Milan evidence: decoding, the VCEK chain to AMD's embedded roots, the
// report signature, go-sev-guest's consistency checks, REPORT_DATA.
// Compare with BenchmarkVerifyFloor from the same run:
//
//	go test -run '^$' -bench 'BenchmarkVerify' -count 5 ./pkg/snpreport/
func BenchmarkVerify(b *testing.B) {
	v := milanVerifier(b)
	ev := milanEvidence(b)
	check := snpreport.Exactly(milanReportData())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), ev, check); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFloor measures only the signatures a verification cannot
// avoid, on the same evidence: the report's ECDSA P-384 signature by the
// VCEK, the VCEK certificate's RSA-PSS signature by the ASK and the ASK's
// by the ARK.
func BenchmarkVerifyFloor(b *testing.B) {
	report := testdata.AttestationBytes
	vcek, err := x509.ParseCertificate(testdata.VcekBytes)
	if err != nil {
		b.Fatal(err)
	}
	roots, err := trust.GetDefaultRootCerts("Milan")
	if err != nil {
		b.Fatal(err)
	}
	ask, ark := roots.ProductCerts.Ask, roots.ProductCerts.Ark
	sig, err := abi.ReportToSignatureDER(report)
	if err != nil {
		b.Fatal(err)
	}
	signed := abi.SignedComponent(report)
	b.ReportAllocs()
	for b.Loop() {
		if err := vcek.CheckSignature(x509.ECDSAWithSHA384, signed, sig); err != nil {
			b.Fatal(err)
		}
		if err := vcek.CheckSignatureFrom(ask); err != nil {
			b.Fatal(err)
		}
		if err := ask.CheckSignatureFrom(ark); err != nil {
			b.Fatal(err)
		}
	}
}
