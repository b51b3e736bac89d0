package snpreport_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hwattest/hwattest/internal/snptest"
	"github.com/hwattest/hwattest/pkg/reportdata"
	"github.com/hwattest/hwattest/pkg/snpreport"
)

const td = "example.org"

// testVerifier trusts only the test chain (as a server whose operator
// configured amd_cert_chains with it).
func testVerifier(t testing.TB, chain *snptest.Chain) *snpreport.Verifier {
	t.Helper()
	v, err := snpreport.NewVerifier(snpreport.Options{Roots: chain.Roots()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func testChain(t testing.TB) *snptest.Chain {
	t.Helper()
	c, err := snptest.NewChain(time.Now().Add(-time.Hour), snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func quote(t testing.TB, g *snptest.Guest, nonce []byte, trustDomain string) []byte {
	t.Helper()
	rd, err := reportdata.New(nonce, trustDomain)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := g.GetRawQuote(rd)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func bound(nonce []byte) snpreport.ReportDataCheck {
	return func(got []byte) error { return reportdata.Check(got, nonce, td) }
}

func TestVerifyTestGuest(t *testing.T) {
	chain := testChain(t)
	g := snptest.NewGuest(chain, 7)
	nonce := bytes.Repeat([]byte{1}, 32)
	res, err := testVerifier(t, chain).Verify(context.Background(), quote(t, g, nonce, td), bound(nonce))
	if err != nil {
		t.Fatal(err)
	}
	if res.Product != "Milan" || res.Signer != "vcek" || res.Policy.Debug || !bytes.Equal(res.ReportID, g.ReportID[:]) || res.ReportedTCB != snptest.DefaultTCB {
		t.Errorf("result %+v", res)
	}
}

// TestVerifyRefusals: each refusal with its exact error.
func TestVerifyRefusals(t *testing.T) {
	chain := testChain(t)
	v := testVerifier(t, chain)
	nonce := bytes.Repeat([]byte{1}, 32)
	foreign, err := snptest.NewForeignChain(time.Now().Add(-time.Hour), snptest.DefaultTCB)
	if err != nil {
		t.Fatal(err)
	}
	good := quote(t, snptest.NewGuest(chain, 7), nonce, td)
	for _, tc := range []struct {
		name     string
		evidence []byte
		reason   snpreport.Reason
		want     string
	}{
		{"wrong nonce", quote(t, snptest.NewGuest(chain, 7), bytes.Repeat([]byte{2}, 32), td), snpreport.ReasonReportData,
			"snpreport: reportdata: the report does not carry this attestation's nonce (replayed or not made for this challenge)"},
		{"another trust domain", quote(t, snptest.NewGuest(chain, 7), nonce, "other.example"), snpreport.ReasonReportData,
			"snpreport: reportdata: the report binds another trust domain"},
		{"untrusted signer", quote(t, snptest.NewGuest(foreign, 7), nonce, td), snpreport.ReasonSignature,
			"snpreport: report signature: VCEK could not be verified by any trusted roots. Last error: error verifying VCEK certificate: x509: certificate signed by unknown authority (possibly because of \"crypto/rsa: verification error\" while trying to verify candidate authority certificate \"SEV-Milan\") (true)"},
		{"truncated", good[:snpreport.ReportSize-1], snpreport.ReasonMalformed,
			"snpreport: evidence is 1183 bytes, shorter than a 1184-byte report"},
		{"oversized", append(append([]byte(nil), good...), make([]byte, snpreport.MaxEvidenceSize)...), snpreport.ReasonMalformed,
			"snpreport: evidence is " + itoa(len(good)+snpreport.MaxEvidenceSize) + " bytes, more than 65536"},
		{"no certificate table", good[:snpreport.ReportSize], snpreport.ReasonSignature,
			"snpreport: the certificate table holds no VCEK certificate and fetching it from AMD KDS is not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tc.evidence, bound(nonce))
			if snpreport.ReasonOf(err) != tc.reason || err.Error() != tc.want {
				t.Fatalf("Verify = %v (reason %q)\nwant %s (reason %q)", err, snpreport.ReasonOf(err), tc.want, tc.reason)
			}
		})
	}
	t.Run("nonce error is reportdata.ErrNonce", func(t *testing.T) {
		_, err := v.Verify(context.Background(), good, bound(bytes.Repeat([]byte{3}, 32)))
		if !errors.Is(err, reportdata.ErrNonce) {
			t.Fatal(err)
		}
	})
	t.Run("changed byte", func(t *testing.T) {
		ev := append([]byte(nil), good...)
		ev[0x90] ^= 1 // measurement
		_, err := v.Verify(context.Background(), ev, bound(nonce))
		if snpreport.ReasonOf(err) != snpreport.ReasonSignature || !strings.Contains(err.Error(), "report signature") {
			t.Fatal(err)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
