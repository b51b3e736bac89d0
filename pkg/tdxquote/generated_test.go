package tdxquote_test

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/tdxtest"
	"github.com/hwattest/hwattest/pkg/tdxquote"
)

// generated returns a test chain (created now: it never expires in a
// test), a guest of it, and a verifier trusting the chain's root as a
// server given intel_root_path does.
func generated(t *testing.T) (*tdxtest.Chain, *tdxtest.Guest, *tdxquote.Verifier) {
	t.Helper()
	chain, err := tdxtest.NewChain(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	g, err := tdxtest.NewGuest(chain)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(chain.RootPEM()) {
		t.Fatal("root PEM")
	}
	return chain, g, tdxquote.NewVerifier(tdxquote.Options{Roots: roots})
}

func quoteOf(t *testing.T, g *tdxtest.Guest, rd [64]byte) []byte {
	t.Helper()
	q, err := g.GetRawQuote(rd)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestGeneratedQuote: a quote from internal/tdxtest verifies against its
// test root through go-tdx-guest's full offline verification (PCK chain,
// SGX extensions, QE report signature and its binding of the attestation
// key, quote signature), and carries the guest's values.
func TestGeneratedQuote(t *testing.T) {
	_, g, v := generated(t)
	g.TDAttributes[0] |= 1
	var rd [64]byte
	copy(rd[:], "live nonce and binding")
	res, err := v.Verify(context.Background(), quoteOf(t, g, rd), exactly(rd[:]))
	if err != nil {
		t.Fatal(err)
	}
	if string(res.MRTD) != string(g.MRTD[:]) || string(res.RTMRs[3]) != string(g.RTMRs[3][:]) || !res.Debug() || string(res.ReportData) != string(rd[:]) {
		t.Errorf("result %+v", res)
	}
}

// TestGeneratedQuoteChanged: one changed byte in the signed header, the TD
// body, the QE report or either signature is refused; a quote of another
// REPORT_DATA is refused by the report data check.
func TestGeneratedQuoteChanged(t *testing.T) {
	_, g, v := generated(t)
	var rd [64]byte
	q := quoteOf(t, g, rd)
	const signedData = 0x27C
	for _, tc := range []struct {
		name string
		off  int
		want string
	}{
		{"header QE SVN", 0x0A, "tdxquote: quote: unable to verify message digest using quote's signature and ecdsa attestation key"},
		{"MRTD", 0x30 + 0x88, "tdxquote: quote: unable to verify message digest using quote's signature and ecdsa attestation key"},
		{"REPORT_DATA", 0x30 + 0x208, "tdxquote: quote: unable to verify message digest using quote's signature and ecdsa attestation key"},
		{"quote signature", signedData + 10, "tdxquote: quote: unable to verify message digest using quote's signature and ecdsa attestation key"},
		{"QE report", signedData + 0x80 + 6 + 0x60, "tdxquote: quote: error verifying QE report signature: QE report's signature verification using PCK Leaf Certificate failed: x509: ECDSA verification failure"},
		{"QE report signature", signedData + 0x80 + 6 + 0x180 + 5, "tdxquote: quote: error verifying QE report signature: QE report's signature verification using PCK Leaf Certificate failed: x509: ECDSA verification failure"},
	} {
		c := append([]byte(nil), q...)
		c[tc.off] ^= 1
		_, err := v.Verify(context.Background(), c, exactly(rd[:]))
		if err == nil || err.Error() != tc.want || tdxquote.ReasonOf(err) != tdxquote.ReasonSignature {
			t.Errorf("%s changed: %v\nwant %s", tc.name, err, tc.want)
		}
	}
	var other [64]byte
	other[0] = 1
	if _, err := v.Verify(context.Background(), quoteOf(t, g, other), exactly(rd[:])); tdxquote.ReasonOf(err) != tdxquote.ReasonReportData {
		t.Errorf("other report data: %v", err)
	}
}

// TestGeneratedQuoteWrongRoot: a quote whose chain ends in another root is
// refused, and so is every generated quote under the embedded Intel root.
func TestGeneratedQuoteWrongRoot(t *testing.T) {
	_, _, v := generated(t)
	_, foreign, _ := generated(t)
	var rd [64]byte
	q := quoteOf(t, foreign, rd)
	_, err := v.Verify(context.Background(), q, exactly(rd[:]))
	want := `tdxquote: quote: error verifying PCK Certificate: x509: certificate signed by unknown authority (possibly because of "x509: ECDSA verification failure" while trying to verify candidate authority certificate "Intel SGX Root CA") (true)`
	if err == nil || tdxquote.ReasonOf(err) != tdxquote.ReasonSignature || err.Error() != want {
		t.Errorf("foreign root: %v\nwant %s", err, want)
	}
	_, err = tdxquote.NewVerifier(tdxquote.Options{}).Verify(context.Background(), q, exactly(rd[:]))
	if err == nil || !strings.HasPrefix(err.Error(), "tdxquote: quote: error verifying PCK Certificate: x509: certificate signed by unknown authority") {
		t.Errorf("Intel root: %v", err)
	}
}
