package tpmquote_test

import (
	"crypto/x509"
	"os"
	"testing"

	"github.com/hwattest/hwattest/internal/swtpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// swtpmPools returns the swtpm local CA's root and intermediate as pools.
func swtpmPools(t *testing.T, sw *swtpmtest.TPM) (roots, intermediates *x509.CertPool) {
	t.Helper()
	return sw.CertPools(t)
}

// TestFlowSWTPM runs the whole flow against swtpm with its real EK chain
// (swtpm_setup + swtpm_localca): RSA and ECC (NIST P-384) EKs, over TCP and
// a unix socket, with the sha1 and sha256 banks.
func TestFlowSWTPM(t *testing.T) {
	for _, tc := range []struct {
		name string
		unix bool
		ek   attester.KeyAlgorithm
		ak   attester.KeyAlgorithm
	}{
		{"tcp/rsa-ek/ecc-ak", false, attester.RSA, attester.ECC},
		{"unix/ecc-ek/rsa-ak", true, attester.ECC, attester.RSA},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sw := swtpmtest.Start(t, swtpmtest.Options{Banks: []string{"sha1", "sha256"}, Unix: tc.unix})
			roots, inter := swtpmPools(t, sw)
			tpm, err := attester.Open(sw.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer tpm.Close()
			v, err := tpmquote.NewVerifier(tpmquote.Options{
				EK:   tpmquote.EKPolicy{Roots: roots, Intermediates: inter},
				PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 2, 3, 4, 5, 6, 7}, tpmquote.SHA1: {0, 7}},
			})
			if err != nil {
				t.Fatal(err)
			}
			s, att := attestation(t, tpm, attester.Config{EKAlgorithm: tc.ek, AKAlgorithm: tc.ak, EventLogPath: "-"})
			res := roundTrip(t, v, s, att)
			if !res.EKCertVerified || res.EKIssuer != "CN=swtpm-localca" {
				t.Errorf("EK verified %v, issuer %q", res.EKCertVerified, res.EKIssuer)
			}
			if res.Manufacturer != "id:00001014" || res.ManufacturerName != "IBM" {
				t.Errorf("manufacturer %q (%q)", res.Manufacturer, res.ManufacturerName)
			}
			cert, err := x509.ParseCertificate(att.EKCertificate)
			if err != nil {
				t.Fatal(err)
			}
			der, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
			if res.EKHash != hashHex(der) {
				t.Errorf("EKHash %s, want %s", res.EKHash, hashHex(der))
			}
		})
	}
}

// TestSWTPMCrossTPM uses two swtpms, A and B, each with a genuine EK
// certificate from the same CA.
func TestSWTPMCrossTPM(t *testing.T) {
	a := swtpmtest.Start(t, swtpmtest.Options{})
	b := swtpmtest.Start(t, swtpmtest.Options{})
	rootsA, interA := swtpmPools(t, a)
	open := func(sw *swtpmtest.TPM) (*attester.Session, *tpmquote.Attestation) {
		tpm, err := attester.Open(sw.Addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tpm.Close() })
		return attestation(t, tpm, attester.Config{EventLogPath: "-"})
	}
	sa, attA := open(a)
	sb, attB := open(b)
	pool := rootsA.Clone()
	b2, _ := os.ReadFile(b.RootCAPath)
	pool.AppendCertsFromPEM(b2)
	inter := interA.Clone()
	b3, _ := os.ReadFile(b.IssuerCAPath)
	inter.AppendCertsFromPEM(b3)
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Roots: pool, Intermediates: inter}})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("AK of another TPM than the EK", func(t *testing.T) {
		// A's genuine EK with B's AK: the credential goes to A's EK, bound
		// to B's AK name. B cannot activate it with its own EK.
		mixed := *attA
		mixed.AK = attB.AK
		ch, session, err := v.Challenge(&mixed)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := sb.Respond(ch); err == nil {
			t.Fatal("TPM B activated a credential made for TPM A's EK")
		}
		// A holds the EK but not the AK: the TPM refuses to activate for an
		// object it has not loaded. Whatever the attacker sends is wrong.
		if _, err := sa.Respond(ch); err == nil {
			t.Fatal("TPM A activated a credential bound to TPM B's AK")
		}
		resp := respond(t, sb, mustChallengeFor(t, v, attB))
		_, err = session.Verify(resp)
		wantRefusal(t, err, tpmquote.ReasonActivation, "tpmquote: credential activation failed: the AK is not in the EK's TPM")
	})
	t.Run("A's certificate with B's EK key", func(t *testing.T) {
		mixed := *attB
		mixed.EKCertificate = attA.EKCertificate
		_, _, err := v.Challenge(&mixed)
		wantRefusal(t, err, tpmquote.ReasonEKMismatch, "tpmquote: ek public key does not match the EK certificate")
	})
}

func mustChallengeFor(t *testing.T, v *tpmquote.Verifier, att *tpmquote.Attestation) *tpmquote.Challenge {
	t.Helper()
	ch, _, err := v.Challenge(att)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}
