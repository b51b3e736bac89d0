package tdxquote_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/google/go-tdx-guest/abi"
	pb "github.com/google/go-tdx-guest/proto/tdx"
	tdxtest "github.com/google/go-tdx-guest/testing"
	"github.com/google/go-tdx-guest/testing/testdata"
	"github.com/google/go-tdx-guest/verify"

	"github.com/hwattest/hwattest/pkg/tdxquote"
)

// quoteTime is a fixed time inside the recorded quote's PCK chain and
// sample collateral validity (as go-tdx-guest's own tests use), so the test
// never expires.
var quoteTime = time.Date(2023, time.July, 1, 1, 0, 0, 0, time.UTC)

func fixed() time.Time { return quoteTime }

// recordedReportData is the REPORT_DATA of go-tdx-guest's real quote
// (testdata/tdx_prod_quote_SPR_E4.dat, a Sapphire Rapids TD).
func recordedReportData(t testing.TB) []byte {
	t.Helper()
	q, err := abi.QuoteToProto(testdata.RawQuote)
	if err != nil {
		t.Fatal(err)
	}
	return q.(*pb.QuoteV4).GetTdQuoteBody().GetReportData()
}

func exactly(want []byte) tdxquote.ReportDataCheck {
	return func(got []byte) error {
		if string(got) != string(want) {
			return errors.New("report data is not the expected value")
		}
		return nil
	}
}

// TestRealQuoteWithoutCollateral verifies the real quote offline: PCK chain
// to the embedded Intel root, QE report, quote signature.
func TestRealQuoteWithoutCollateral(t *testing.T) {
	v := tdxquote.NewVerifier(tdxquote.Options{Now: fixed})
	res, err := v.Verify(context.Background(), testdata.RawQuote, exactly(recordedReportData(t)))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.MRTD) != 48 || len(res.RTMRs) != 4 || res.Collateral {
		t.Errorf("result %+v", res)
	}
	t.Logf("MRTD %s debug %v", res.MRTDHex(), res.Debug())
}

// TestRealQuoteWithCollateral checks the real quote against go-tdx-guest's
// recorded collateral (TCB info, QE identity, PCK and root CRLs, served
// from memory, no network). go-tdx-guest checks the TCB status only after
// the collateral's signatures, issuer chains and CRLs verified; the
// recorded TCB info has no level matching this quote's TEE TCB SVN, so the
// quote is refused with go-tdx-guest's TCB status error, as go-tdx-guest's
// own test (TestNegativeRawQuoteVerifyWithCollateral) expects.
func TestRealQuoteWithCollateral(t *testing.T) {
	v := tdxquote.NewVerifier(tdxquote.Options{Now: fixed, Collateral: tdxtest.TestGetter})
	_, err := v.Verify(context.Background(), testdata.RawQuote, exactly(recordedReportData(t)))
	want := "tdxquote: quote: TDX TCB info reported by Intel PCS failed TCB status check: no matching TCB level found"
	if err == nil || err.Error() != want || tdxquote.ReasonOf(err) != tdxquote.ReasonSignature {
		t.Fatalf("Verify = %v, want %s", err, want)
	}
}

// TestRealQuoteChanged: one changed byte anywhere signed is refused.
func TestRealQuoteChanged(t *testing.T) {
	v := tdxquote.NewVerifier(tdxquote.Options{Now: fixed})
	rd := recordedReportData(t)
	for _, off := range []int{0x30 + 0x88 /* MRTD */, 0x30 + 0x208 /* REPORT_DATA */, 0x30 + 0x248 + 4 + 10 /* signature */} {
		q := append([]byte(nil), testdata.RawQuote...)
		q[off] ^= 1
		_, err := v.Verify(context.Background(), q, exactly(rd))
		if tdxquote.ReasonOf(err) != tdxquote.ReasonSignature {
			t.Errorf("byte %#x changed: %v", off, err)
		}
	}
	if _, err := v.Verify(context.Background(), testdata.RawQuote[:100], exactly(rd)); tdxquote.ReasonOf(err) != tdxquote.ReasonMalformed ||
		err.Error() != "tdxquote: quote is 100 bytes, shorter than the 1020 of a TDX quote" {
		t.Errorf("truncated: %v", err)
	}
	big := make([]byte, tdxquote.MaxQuoteSize+1)
	if _, err := v.Verify(context.Background(), big, exactly(rd)); err == nil || err.Error() != "tdxquote: quote is 32769 bytes, more than 32768" {
		t.Errorf("oversized: %v", err)
	}
}

// TestEmbeddedRootIsIntels: the embedded root is the one the real quote's
// PCK chain ends in, and has Intel's published fingerprint.
func TestEmbeddedRootIsIntels(t *testing.T) {
	root := tdxquote.IntelRoot()
	sum := sha256.Sum256(root.Raw)
	if got := hex.EncodeToString(sum[:]); got != "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3" {
		t.Errorf("fingerprint %s", got)
	}
	parsed, _ := abi.QuoteToProto(testdata.RawQuote)
	chain, err := verify.ExtractChainFromQuote(parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !chain.RootCertificate.Equal(root) {
		t.Error("the quote's root is not the embedded root")
	}
}
