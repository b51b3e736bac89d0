package tpmquote_test

import (
	"crypto/x509"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// simTPM is a simulator whose RSA and ECC EKs are certified by ca.
type simTPM struct {
	tpm transport.TPM
	ca  *tpmtest.CA
}

func newSimTPM(t *testing.T) *simTPM {
	t.Helper()
	tpm := tpmtest.Simulator(t)
	ca := tpmtest.NewCA(t, "test EK CA")
	tpmtest.CertifyEKs(t, tpm, ca, "id:49465800", "SLB9670", "id:00070055")
	return &simTPM{tpm: tpm, ca: ca}
}

func (s *simTPM) verifier(t *testing.T, opts tpmquote.Options) *tpmquote.Verifier {
	t.Helper()
	if opts.EK.Roots == nil {
		opts.EK.Roots = s.ca.Pool()
	}
	v, err := tpmquote.NewVerifier(opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// attestation runs the attester's first step and returns the session and
// the decoded wire message, as a verifier receives it.
func attestation(t *testing.T, tpm transport.TPM, cfg attester.Config) (*attester.Session, *tpmquote.Attestation) {
	t.Helper()
	s, att, err := attester.Begin(tpm, cfg)
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	t.Cleanup(s.Close)
	b, err := att.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	att, err = tpmquote.DecodeAttestation(b)
	if err != nil {
		t.Fatalf("DecodeAttestation: %v", err)
	}
	return s, att
}

func respond(t *testing.T, s *attester.Session, ch *tpmquote.Challenge) *tpmquote.Response {
	t.Helper()
	b, err := ch.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	ch, err = tpmquote.DecodeChallenge(b)
	if err != nil {
		t.Fatalf("DecodeChallenge: %v", err)
	}
	resp, err := s.Respond(ch)
	if err != nil {
		t.Fatalf("Respond: %v", err)
	}
	b, err = resp.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = tpmquote.DecodeResponse(b)
	if err != nil {
		t.Fatalf("DecodeResponse: %v", err)
	}
	return resp
}

// roundTrip runs the challenge and the verification of an honest response.
func roundTrip(t *testing.T, v *tpmquote.Verifier, s *attester.Session, att *tpmquote.Attestation) *tpmquote.Result {
	t.Helper()
	ch, session, err := v.Challenge(att)
	if err != nil {
		t.Fatalf("Challenge: %v", err)
	}
	res, err := session.Verify(respond(t, s, ch))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return res
}

func TestFlowSimulator(t *testing.T) {
	sim := newSimTPM(t)
	for _, tc := range []struct {
		ek, ak attester.KeyAlgorithm
	}{
		{attester.RSA, attester.ECC},
		{attester.RSA, attester.RSA},
		{attester.ECC, attester.ECC},
		{attester.ECC, attester.RSA},
	} {
		t.Run(string(tc.ek)+"-ek/"+string(tc.ak)+"-ak", func(t *testing.T) {
			v := sim.verifier(t, tpmquote.Options{PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {0, 1, 7}, tpmquote.SHA1: {0}}})
			s, att := attestation(t, sim.tpm, attester.Config{EKAlgorithm: tc.ek, AKAlgorithm: tc.ak, EventLogPath: "-"})
			if len(att.EKCertificate) == 0 {
				t.Fatal("no EK certificate read from NV")
			}
			res := roundTrip(t, v, s, att)
			cert, _ := x509.ParseCertificate(att.EKCertificate)
			der, _ := x509.MarshalPKIXPublicKey(cert.PublicKey)
			if want := hashHex(der); res.EKHash != want {
				t.Errorf("EKHash = %s, want %s", res.EKHash, want)
			}
			if !res.EKCertVerified || res.EKIssuer != "CN=test EK CA,O=hwattest test" {
				t.Errorf("EK cert verified %v issuer %q", res.EKCertVerified, res.EKIssuer)
			}
			if res.Manufacturer != "id:49465800" || res.ManufacturerName != "Infineon" || res.Model != "SLB9670" || res.Version != "id:00070055" {
				t.Errorf("TPM facts = %q %q %q %q", res.Manufacturer, res.ManufacturerName, res.Model, res.Version)
			}
			if res.Status != tpmquote.StatusAffirming {
				t.Errorf("Status = %s", res.Status)
			}
			if len(res.PCRs[tpmquote.SHA256]) != 3 || len(res.PCRs[tpmquote.SHA1]) != 1 {
				t.Errorf("PCRs = %v", res.PCRs)
			}
		})
	}
}

// TestEKHashCompatibleWithSpireTPMPlugin checks the EK hash against the value
// spiffe/spire-tpm-plugin's own test expects for the reference simulator
// with seed 0 (cmd/get_tpm_pubhash/get_tpm_pubhash_test.go there), so that
// agent IDs stay the same for operators who switch plugins.
func TestEKHashCompatibleWithSpireTPMPlugin(t *testing.T) {
	const want = "1b5bbe2e96054f7bc34ebe7ba9a4a9eac5611c6879285ceff6094fa556af485c"
	tpm := tpmtest.SimulatorWithSeed(t, 0)
	s, att := attestation(t, tpm, attester.Config{EventLogPath: "-"})
	defer s.Close()
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: tpmquote.EKPolicy{Require: tpmquote.RequireHash, Listed: func(string) bool { return true }}})
	if err != nil {
		t.Fatal(err)
	}
	res := roundTrip(t, v, s, att)
	if res.EKHash != want {
		t.Errorf("EK hash %s, spire-tpm-plugin computes %s", res.EKHash, want)
	}
}
