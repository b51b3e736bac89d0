package tdxquote_test

import (
	"context"
	"testing"

	"github.com/google/go-tdx-guest/testing/testdata"

	"github.com/hwattest/hwattest/pkg/tdxquote"
)

// FuzzVerify: the verifier on arbitrary quotes (quote, PCK chain and QE
// report decoding, signatures). It must not panic, a refusal must carry a
// Reason, and only the recorded quote may verify. Seeds: the real quote
// and testdata/fuzz/FuzzVerify.
func FuzzVerify(f *testing.F) {
	v := tdxquote.NewVerifier(tdxquote.Options{Now: fixed})
	rd := recordedReportData(f)
	f.Add(testdata.RawQuote)
	f.Add(testdata.RawQuote[:1020])
	f.Fuzz(func(t *testing.T, quote []byte) {
		_, err := v.Verify(context.Background(), quote, exactly(rd))
		if err != nil {
			if tdxquote.ReasonOf(err) == "" {
				t.Fatalf("refusal without a reason: %v", err)
			}
			return
		}
		if string(quote) != string(testdata.RawQuote) && len(quote) >= len(testdata.RawQuote) && string(quote[:0x30+0x248]) != string(testdata.RawQuote[:0x30+0x248]) {
			t.Fatalf("a changed quote verified")
		}
	})
}
