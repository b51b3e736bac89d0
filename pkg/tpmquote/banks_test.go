package tpmquote_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// TestPCRBankNegotiation: the attester offers its active banks, narrowed by
// its configuration; the verifier quotes what it is configured with and is
// offered, and refuses when nothing is left.
func TestPCRBankNegotiation(t *testing.T) {
	sim := newSimTPM(t)
	both := tpmquote.PCRSelection{tpmquote.SHA256: {0, 7}, tpmquote.SHA1: {0}}

	t.Run("all active banks offered", func(t *testing.T) {
		_, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})
		for _, alg := range []tpmquote.HashAlg{tpmquote.SHA1, tpmquote.SHA256} {
			if !slices.Contains(att.PCRBanks, alg) {
				t.Errorf("offered %v, want %s among them", att.PCRBanks, alg)
			}
		}
	})
	t.Run("narrowed by the attester", func(t *testing.T) {
		s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-", PCRBanks: []tpmquote.HashAlg{tpmquote.SHA256}})
		if !slices.Equal(att.PCRBanks, []tpmquote.HashAlg{tpmquote.SHA256}) {
			t.Fatalf("offered %v", att.PCRBanks)
		}
		v := sim.verifier(t, tpmquote.Options{PCRs: both})
		ch, session, err := v.Challenge(att)
		if err != nil {
			t.Fatal(err)
		}
		if got := ch.PCRs.Banks(); !slices.Equal(got, []tpmquote.HashAlg{tpmquote.SHA256}) {
			t.Fatalf("challenge banks %v, want [sha256]", got)
		}
		res, err := session.Verify(respond(t, s, ch))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.PCRs[tpmquote.SHA1]) != 0 || len(res.PCRs[tpmquote.SHA256]) != 2 {
			t.Errorf("quoted %v", res.PCRs)
		}
	})
	t.Run("nothing in common", func(t *testing.T) {
		_, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-", PCRBanks: []tpmquote.HashAlg{tpmquote.SHA1}})
		v := sim.verifier(t, tpmquote.Options{PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {7}}})
		_, _, err := v.Challenge(att)
		wantRefusal(t, err, tpmquote.ReasonPCRBanks, "tpmquote: pcr banks: the verifier quotes [sha256], the attester offers [sha1]")
	})
	t.Run("attester refuses a bank it did not offer", func(t *testing.T) {
		s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-", PCRBanks: []tpmquote.HashAlg{tpmquote.SHA256}})
		att.PCRBanks = nil // as if the verifier ignored the offer
		v := sim.verifier(t, tpmquote.Options{PCRs: both})
		ch, _, err := v.Challenge(att)
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Respond(ch)
		if err == nil || !strings.Contains(err.Error(), "challenge asks for PCR bank sha1, offered only [sha256]") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("malformed offers", func(t *testing.T) {
		_, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-", PCRBanks: []tpmquote.HashAlg{tpmquote.SHA256}})
		good, err := att.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ banks, want string }{
			{`["sha256","sha256"]`, "tpmquote: attestation: pcr_banks: sha256 listed twice"},
			{`["md5"]`, `tpmquote: attestation: unknown hash algorithm "md5"`},
			{`["sha1","sha256","sha384","sha512","sha1"]`, "tpmquote: attestation: pcr_banks lists 5 banks, at most 4"},
		} {
			in := bytes.Replace(good, []byte(`"pcr_banks":["sha256"]`), []byte(`"pcr_banks":`+tc.banks), 1)
			_, err := tpmquote.DecodeAttestation(in)
			if err == nil || err.Error() != tc.want || tpmquote.ReasonOf(err) != tpmquote.ReasonMalformed {
				t.Errorf("%s: err = %v, want %q", tc.banks, err, tc.want)
			}
		}
	})
}

// TestSWTPMInactiveBank: swtpm with only the sha256 bank active, a verifier
// configured for sha1 and sha256 (a common fleet-wide setting). The attester
// offers sha256 only, so the quote covers it and the attestation passes; an
// attester configured for sha1 alone has nothing to offer.
func TestSWTPMInactiveBank(t *testing.T) {
	sw := swtpmtest.Start(t, swtpmtest.Options{Banks: []string{"sha256"}})
	roots, inter := swtpmPools(t, sw)
	tpm, err := attester.Open(sw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer tpm.Close()
	v, err := tpmquote.NewVerifier(tpmquote.Options{
		EK:   tpmquote.EKPolicy{Roots: roots, Intermediates: inter},
		PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {0, 7}, tpmquote.SHA1: {0, 7}},
	})
	if err != nil {
		t.Fatal(err)
	}
	s, att := attestation(t, tpm, attester.Config{EventLogPath: "-"})
	if !slices.Equal(att.PCRBanks, []tpmquote.HashAlg{tpmquote.SHA256}) {
		t.Fatalf("offered %v, want [sha256]", att.PCRBanks)
	}
	res := roundTrip(t, v, s, att)
	if got := res.PCRs.Banks(); !slices.Equal(got, []tpmquote.HashAlg{tpmquote.SHA256}) {
		t.Errorf("quoted banks %v", got)
	}
	s.Close()

	s2, _, err := attester.Begin(tpm, attester.Config{EventLogPath: "-", PCRBanks: []tpmquote.HashAlg{tpmquote.SHA1}})
	if err == nil {
		s2.Close()
	}
	if err == nil || err.Error() != "attester: no active PCR bank to offer: active [sha256], configured [sha1]" {
		t.Fatalf("err = %v", err)
	}
}
