package tpmquote_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// record runs a live round trip on the simulator and returns what an
// evidence file keeps: the attestation, the nonce and the response without
// its secret.
func record(t *testing.T, sim *simTPM, v *tpmquote.Verifier) (*tpmquote.Attestation, []byte, *tpmquote.Response) {
	t.Helper()
	s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})
	ch, session, err := v.Challenge(att)
	if err != nil {
		t.Fatal(err)
	}
	resp := respond(t, s, ch)
	if _, err := session.Verify(resp); err != nil {
		t.Fatal(err)
	}
	resp.Secret = nil
	return att, ch.Nonce, resp
}

func TestVerifyRecorded(t *testing.T) {
	sim := newSimTPM(t)
	v := sim.verifier(t, tpmquote.Options{})
	att, nonce, resp := record(t, sim, v)

	res, err := v.VerifyRecorded(att, nonce, resp)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Checks {
		if !c.Passed && c.Name != "ek.allowlist" {
			t.Errorf("check %s failed", c.Name)
		}
		names = append(names, c.Name)
		if c.Name == "quote.nonce" && c.Detail != "the recorded nonce (not fresh)" {
			t.Errorf("quote.nonce detail %q", c.Detail)
		}
	}
	want := "ek.certificate ek.allowlist ak.parameters quote.signature quote.nonce quote.pcr_selection quote.pcr_digest"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("checks %s, want %s", got, want)
	}
	if res.Status != tpmquote.StatusWarning || res.Trust.InstanceIdentity != tpmquote.TierWarning || res.Trust.Hardware != tpmquote.TierWarning {
		t.Errorf("status %s, trust %+v", res.Status, res.Trust)
	}
	if !res.EKCertVerified || len(res.PCRs[tpmquote.SHA256]) != 8 {
		t.Errorf("result %+v", res)
	}

	other := bytes.Repeat([]byte{1}, tpmquote.NonceSize)
	_, err = v.VerifyRecorded(att, other, resp)
	wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: nonce does not match the challenge")

	_, err = v.VerifyRecorded(att, nonce[:16], resp)
	wantRefusal(t, err, tpmquote.ReasonMalformed, "tpmquote: recorded nonce is 16 bytes, want 32")

	withSecret := *resp
	withSecret.Secret = []byte{1}
	_, err = v.VerifyRecorded(att, nonce, &withSecret)
	wantRefusal(t, err, tpmquote.ReasonMalformed, "tpmquote: response: a recorded response carries no secret")

	tampered := *resp
	tampered.PCRs = tpmquote.PCRValues{tpmquote.SHA256: {}}
	for i, d := range resp.PCRs[tpmquote.SHA256] {
		tampered.PCRs[tpmquote.SHA256][i] = d
	}
	tampered.PCRs[tpmquote.SHA256][7] = bytes.Repeat([]byte{7}, 32)
	_, err = v.VerifyRecorded(att, nonce, &tampered)
	wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: PCR values do not match the quoted PCR digest")

	wider := sim.verifier(t, tpmquote.Options{PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 2, 3, 4, 5, 6, 7, 10}}})
	_, err = wider.VerifyRecorded(att, nonce, resp)
	wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: PCR selection sha256:0,1,2,3,4,5,6,7 differs from the requested sha256:0,1,2,3,4,5,6,7,10")

	untrusted, err := tpmquote.NewVerifier(tpmquote.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = untrusted.VerifyRecorded(att, nonce, resp)
	wantRefusal(t, err, tpmquote.ReasonEKUntrusted, "tpmquote: ek certificate: no trusted EK CA configured")
}
