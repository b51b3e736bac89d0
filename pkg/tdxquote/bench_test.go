package tdxquote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"math/big"
	"testing"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	"github.com/google/go-tdx-guest/testing/testdata"
	"github.com/google/go-tdx-guest/verify"

	"github.com/hwattest/hwattest/pkg/tdxquote"
)

// BenchmarkVerify measures one whole verification of the real quote
// without collateral: decoding, the PCK chain to Intel's root, the QE
// report signature and binding, the quote signature, REPORT_DATA.
// Compare with BenchmarkVerifyFloor from the same run:
//
//	go test -run '^$' -bench 'BenchmarkVerify' -count 5 ./pkg/tdxquote/
func BenchmarkVerify(b *testing.B) {
	v := tdxquote.NewVerifier(tdxquote.Options{Now: fixed})
	check := exactly(recordedReportData(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(context.Background(), testdata.RawQuote, check); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyFloor measures only the four ECDSA P-256 signatures a
// verification cannot avoid, on the same quote: the quote by the
// attestation key, the QE report by the PCK key, the PCK certificate by the
// platform CA and that CA by the root.
func BenchmarkVerifyFloor(b *testing.B) {
	parsed, err := abi.QuoteToProto(testdata.RawQuote)
	if err != nil {
		b.Fatal(err)
	}
	q := parsed.(*pb.QuoteV4)
	chain, err := verify.ExtractChainFromQuote(parsed)
	if err != nil {
		b.Fatal(err)
	}
	header, _ := abi.HeaderToAbiBytes(q.GetHeader())
	body, _ := abi.TdQuoteBodyToAbiBytes(q.GetTdQuoteBody())
	signed := append(header, body...)
	sd := q.GetSignedData()
	quoteSig, _ := abi.SignatureToDER(sd.GetSignature())
	ak, err := akCert(sd.GetEcdsaAttestationKey())
	if err != nil {
		b.Fatal(err)
	}
	qe := sd.GetCertificationData().GetQeReportCertificationData()
	qeRaw, _ := abi.EnclaveReportToAbiBytes(qe.GetQeReport())
	qeSig, _ := abi.SignatureToDER(qe.GetQeReportSignature())
	b.ReportAllocs()
	for b.Loop() {
		if err := ak.CheckSignature(x509.ECDSAWithSHA256, signed, quoteSig); err != nil {
			b.Fatal(err)
		}
		if err := chain.PCKCertificate.CheckSignature(x509.ECDSAWithSHA256, qeRaw, qeSig); err != nil {
			b.Fatal(err)
		}
		if err := chain.PCKCertificate.CheckSignatureFrom(chain.IntermediateCertificate); err != nil {
			b.Fatal(err)
		}
		if err := chain.IntermediateCertificate.CheckSignatureFrom(chain.RootCertificate); err != nil {
			b.Fatal(err)
		}
	}
}

// akCert wraps the quote's raw attestation key (X || Y, P-256) in a
// certificate value so CheckSignature can use it.
func akCert(raw []byte) (*x509.Certificate, error) {
	x, y := new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:64])
	pub := &ecdsa.PublicKey{Curve: elliptic.P256(), X: x, Y: y}
	return &x509.Certificate{PublicKey: pub, PublicKeyAlgorithm: x509.ECDSA}, nil
}
