package tpmquote_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"github.com/hwattest/hwattest/internal/tpmtest"
	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

func wantRefusal(t *testing.T, err error, reason tpmquote.Reason, msg string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted, want %q", msg)
	}
	if err.Error() != msg {
		t.Errorf("err = %q\nwant  %q", err, msg)
	}
	if got := tpmquote.ReasonOf(err); got != reason {
		t.Errorf("reason = %q, want %q", got, reason)
	}
}

// TestQuoteRefusals tampers with one part of an honest response at a time.
func TestQuoteRefusals(t *testing.T) {
	sim := newSimTPM(t)
	v := sim.verifier(t, tpmquote.Options{})
	run := func(t *testing.T) (*tpmquote.Challenge, *tpmquote.Session, *attester.Session) {
		s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})
		ch, session, err := v.Challenge(att)
		if err != nil {
			t.Fatal(err)
		}
		return ch, session, s
	}

	t.Run("wrong nonce", func(t *testing.T) {
		ch, session, s := run(t)
		other := *ch
		other.Nonce = bytes.Repeat([]byte{7}, tpmquote.NonceSize)
		_, err := session.Verify(respond(t, s, &other))
		wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: nonce does not match the challenge")
		if session.Proven() {
			t.Error("Proven() = true after a quote over another nonce")
		}
	})
	t.Run("replayed response", func(t *testing.T) {
		ch1, session1, s1 := run(t)
		old := respond(t, s1, ch1)
		s1.Close()
		if _, err := session1.Verify(old); err != nil {
			t.Fatal(err)
		}
		// The same response again on its own session.
		_, err := session1.Verify(old)
		wantRefusal(t, err, tpmquote.ReasonSessionUsed, "tpmquote: challenge already answered")
		// The recorded response in a new attestation: its secret is stale.
		_, session2, _ := run(t)
		_, err = session2.Verify(old)
		wantRefusal(t, err, tpmquote.ReasonActivation, "tpmquote: credential activation failed: the AK is not in the EK's TPM")
		if session2.Proven() {
			t.Error("Proven() = true after a failed credential activation")
		}
	})
	t.Run("replayed quote with a fresh secret", func(t *testing.T) {
		ch1, _, s1 := run(t)
		old := respond(t, s1, ch1)
		s1.Close()
		ch2, session2, s2 := run(t)
		fresh := respond(t, s2, ch2)
		fresh.Quote, fresh.QuoteSignature = old.Quote, old.QuoteSignature
		_, err := session2.Verify(fresh)
		// The old quote is signed by the first session's AK.
		wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: signature does not verify: ECDSA verification failed")
	})
	t.Run("PCR changed after the quote", func(t *testing.T) {
		ch, session, s := run(t)
		resp := respond(t, s, ch)
		tpmtest.ExtendPCR(t, sim.tpm, tpm2.TPMAlgSHA256, 7, bytes.Repeat([]byte{1}, 32))
		now, err := attester.ReadPCRs(sim.tpm, ch.PCRs)
		if err != nil {
			t.Fatal(err)
		}
		resp.PCRs = now
		_, err = session.Verify(resp)
		wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: PCR values do not match the quoted PCR digest")
	})
	t.Run("PCR value missing", func(t *testing.T) {
		ch, session, s := run(t)
		resp := respond(t, s, ch)
		delete(resp.PCRs[tpmquote.SHA256], 3)
		_, err := session.Verify(resp)
		wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: sha256 PCR 3 is quoted but its value was not sent")
	})
	t.Run("extra PCR value", func(t *testing.T) {
		ch, session, s := run(t)
		resp := respond(t, s, ch)
		resp.PCRs[tpmquote.SHA256][9] = make([]byte, 32)
		_, err := session.Verify(resp)
		wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: 9 PCR values sent for 8 quoted PCRs")
	})
	t.Run("quote over another selection", func(t *testing.T) {
		ch, session, s := run(t)
		other := *ch
		other.PCRs = tpmquote.PCRSelection{tpmquote.SHA256: {0, 1}}
		resp := respond(t, s, &other)
		_, err := session.Verify(resp)
		wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: PCR selection sha256:0,1 differs from the requested sha256:0,1,2,3,4,5,6,7")
	})
	t.Run("bank missing", func(t *testing.T) {
		v2 := sim.verifier(t, tpmquote.Options{PCRs: tpmquote.PCRSelection{tpmquote.SHA256: {0}, tpmquote.SHA1: {0}}})
		s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})
		ch, session, err := v2.Challenge(att)
		if err != nil {
			t.Fatal(err)
		}
		other := *ch
		other.PCRs = tpmquote.PCRSelection{tpmquote.SHA256: {0}}
		_, err = session.Verify(respond(t, s, &other))
		wantRefusal(t, err, tpmquote.ReasonQuote, "tpmquote: quote: PCR selection sha256:0 differs from the requested sha1:0 sha256:0")
	})
	t.Run("wrong secret", func(t *testing.T) {
		ch, session, s := run(t)
		resp := respond(t, s, ch)
		resp.Secret[0] ^= 1
		_, err := session.Verify(resp)
		wantRefusal(t, err, tpmquote.ReasonActivation, "tpmquote: credential activation failed: the AK is not in the EK's TPM")
	})
}

// TestEKRefusals covers EKs that must not pass.
func TestEKRefusals(t *testing.T) {
	sim := newSimTPM(t)
	_, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})

	t.Run("untrusted CA", func(t *testing.T) {
		v := sim.verifier(t, tpmquote.Options{EK: tpmquote.EKPolicy{Roots: tpmtest.NewCA(t, "other CA").Pool()}})
		_, _, err := v.Challenge(att)
		wantRefusal(t, err, tpmquote.ReasonEKUntrusted, "tpmquote: ek certificate: x509: certificate signed by unknown authority")
	})
	t.Run("genuine certificate with another key", func(t *testing.T) {
		// A genuine EK certificate next to a software key: the challenge
		// would go to a key whose owner is not a TPM.
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		pub := tpm2.RSAEKTemplate
		pub.Unique = tpm2.NewTPMUPublicID(tpm2.TPMAlgRSA, &tpm2.TPM2BPublicKeyRSA{Buffer: key.N.Bytes()})
		forged := *att
		forged.EKPublic = tpm2.Marshal(pub)
		_, _, err = sim.verifier(t, tpmquote.Options{}).Challenge(&forged)
		wantRefusal(t, err, tpmquote.ReasonEKMismatch, "tpmquote: ek public key does not match the EK certificate")
	})
	t.Run("no certificate, certificate required", func(t *testing.T) {
		bare := *att
		bare.EKCertificate = nil
		_, _, err := sim.verifier(t, tpmquote.Options{}).Challenge(&bare)
		wantRefusal(t, err, tpmquote.ReasonEKUntrusted, "tpmquote: no EK certificate, and one is required")
	})
	t.Run("hash not listed", func(t *testing.T) {
		bare := *att
		bare.EKCertificate = nil
		v := sim.verifier(t, tpmquote.Options{EK: tpmquote.EKPolicy{Require: tpmquote.RequireHash, Listed: func(string) bool { return false }}})
		_, _, err := v.Challenge(&bare)
		if err == nil || !strings.HasSuffix(err.Error(), " is not on the allowlist") || tpmquote.ReasonOf(err) != tpmquote.ReasonEKUntrusted {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("hash listed, no certificate", func(t *testing.T) {
		bare := *att
		bare.EKCertificate = nil
		var listed string
		v := sim.verifier(t, tpmquote.Options{EK: tpmquote.EKPolicy{Require: tpmquote.RequireHash, Listed: func(h string) bool { listed = h; return true }}})
		_, session, err := v.Challenge(&bare)
		if err != nil {
			t.Fatal(err)
		}
		if !session.EK().Listed || session.EK().Hash != listed {
			t.Errorf("EK = %+v", session.EK())
		}
	})
	t.Run("either: untrusted certificate but listed hash", func(t *testing.T) {
		v := sim.verifier(t, tpmquote.Options{EK: tpmquote.EKPolicy{Require: tpmquote.RequireEither,
			Roots: tpmtest.NewCA(t, "other CA").Pool(), Listed: func(string) bool { return true }}})
		_, session, err := v.Challenge(att)
		if err != nil {
			t.Fatal(err)
		}
		if session.EK().CertVerified || !session.EK().Listed {
			t.Errorf("EK = %+v", session.EK())
		}
	})
}

// TestAKRefusals edits the AK public area; the attribute checks run before
// any signature check, so each edit is refused for its own reason.
func TestAKRefusals(t *testing.T) {
	sim := newSimTPM(t)
	s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})
	s.Close()
	for _, tc := range []struct {
		name   string
		edit   func(*tpm2.TPMAObject)
		reason tpmquote.Reason
		want   string
	}{
		{"unrestricted", func(a *tpm2.TPMAObject) { a.Restricted = false }, tpmquote.ReasonAKInvalid, "tpmquote: ak is not a restricted signing key"},
		{"decrypt", func(a *tpm2.TPMAObject) { a.Decrypt = true }, tpmquote.ReasonAKInvalid, "tpmquote: ak is not a restricted signing key"},
		{"exportable", func(a *tpm2.TPMAObject) { a.FixedTPM, a.FixedParent = false, false }, tpmquote.ReasonAKInvalid, "tpmquote: ak is exportable (fixedTPM and fixedParent must be set)"},
		{"not fixedParent", func(a *tpm2.TPMAObject) { a.FixedParent = false }, tpmquote.ReasonAKInvalid, "tpmquote: ak is exportable (fixedTPM and fixedParent must be set)"},
		{"imported", func(a *tpm2.TPMAObject) { a.SensitiveDataOrigin = false }, tpmquote.ReasonAKInvalid, "tpmquote: ak private key was not generated by the TPM"},
		{"attributes otherwise valid, name changed", func(a *tpm2.TPMAObject) { a.NoDA = !a.NoDA }, tpmquote.ReasonAKInvalid, "tpmquote: ak creation attest certifies another object"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, err := tpm2.Unmarshal[tpm2.TPMTPublic](att.AK.Public)
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(&pub.ObjectAttributes)
			bad := *att
			bad.AK.Public = tpm2.Marshal(*pub)
			_, _, err = sim.verifier(t, tpmquote.Options{}).Challenge(&bad)
			wantRefusal(t, err, tc.reason, tc.want)
		})
	}
	t.Run("creation signature from another key", func(t *testing.T) {
		s, other := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})
		s.Close()
		bad := *att
		bad.AK.CreationSignature = other.AK.CreationSignature
		_, _, err := sim.verifier(t, tpmquote.Options{}).Challenge(&bad)
		wantRefusal(t, err, tpmquote.ReasonAKInvalid, "tpmquote: ak creation attest: signature does not verify: ECDSA verification failed")
	})
	t.Run("creation data edited", func(t *testing.T) {
		bad := *att
		bad.AK.CreationData = bytes.Clone(att.AK.CreationData)
		bad.AK.CreationData[10] ^= 1 // inside pcrDigest
		_, _, err := sim.verifier(t, tpmquote.Options{}).Challenge(&bad)
		wantRefusal(t, err, tpmquote.ReasonAKInvalid, "tpmquote: ak creation data does not match its attestation")
	})
}

// TestDecodeRefusals covers inputs that never reach verification.
func TestDecodeRefusals(t *testing.T) {
	sim := newSimTPM(t)
	s, att := attestation(t, sim.tpm, attester.Config{EventLogPath: "-"})
	good, err := att.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	v := sim.verifier(t, tpmquote.Options{})
	ch, _, err := v.Challenge(att)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := s.Respond(ch)
	if err != nil {
		t.Fatal(err)
	}
	goodResp, _ := resp.Marshal()

	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "tpmquote: attestation: empty"},
		{"truncated", good[:len(good)/2], "tpmquote: attestation: unexpected EOF"},
		{"oversized", append(good, bytes.Repeat([]byte(" "), tpmquote.MaxAttestationSize)...), "tpmquote: attestation: "},
		{"wrong version", bytes.Replace(good, []byte(`"version":1`), []byte(`"version":2`), 1), "tpmquote: attestation: unsupported version 2 (want 1)"},
		{"unknown field", bytes.Replace(good, []byte(`"version":1`), []byte(`"version":1,"x":1`), 1), `tpmquote: attestation: json: unknown field "x"`},
		{"wrong shape", []byte(`[1,2,3]`), "tpmquote: attestation: json: cannot unmarshal array into Go value of type tpmquote.Attestation"},
		{"trailing data", append(bytes.Clone(good), []byte(`{}`)...), "tpmquote: attestation: trailing data"},
		{"missing ek", []byte(`{"version":1}`), "tpmquote: attestation: ek_public: missing"},
	} {
		t.Run("attestation/"+tc.name, func(t *testing.T) {
			_, err := tpmquote.DecodeAttestation(tc.in)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) || tpmquote.ReasonOf(err) != tpmquote.ReasonMalformed {
				t.Fatalf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "tpmquote: response: empty"},
		{"truncated", goodResp[:len(goodResp)-3], "tpmquote: response: unexpected EOF"},
		{"oversized", make([]byte, tpmquote.MaxResponseSize+1), "tpmquote: response: 4194305 bytes exceed the limit of 4194304"},
		{"bad PCR size", bytes.Replace(goodResp, []byte(`"pcrs":{"sha256":{"0":"`), []byte(`"pcrs":{"sha256":{"0":"AAAA`), 1), "tpmquote: response: pcrs: sha256 PCR 0 is 35 bytes, want 32"},
		{"unknown bank", bytes.Replace(goodResp, []byte(`"pcrs":{"sha256"`), []byte(`"pcrs":{"md5"`), 1), "tpmquote: response: unknown hash algorithm \"md5\""},
	} {
		t.Run("response/"+tc.name, func(t *testing.T) {
			_, err := tpmquote.DecodeResponse(tc.in)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("err = %v, want prefix %q", err, tc.want)
			}
		})
	}
	t.Run("truncated TPM structure", func(t *testing.T) {
		bad := *att
		bad.AK.Public = att.AK.Public[:len(att.AK.Public)-1]
		_, _, err := v.Challenge(&bad)
		var e *tpmquote.Error
		if !errors.As(err, &e) || e.Reason != tpmquote.ReasonMalformed || !strings.HasPrefix(err.Error(), "tpmquote: ak public: ") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("trailing bytes in the AK public area", func(t *testing.T) {
		// The AK name is the hash of the bytes as sent; the TPM certified
		// the name of its canonical public area.
		bad := *att
		bad.AK.Public = append(bytes.Clone(att.AK.Public), 0)
		_, _, err := v.Challenge(&bad)
		wantRefusal(t, err, tpmquote.ReasonAKInvalid, "tpmquote: ak creation attest certifies another object")
	})
}

// TestAKMadeInTPMRefused creates keys in the TPM that must not serve as AKs.
func TestAKMadeInTPMRefused(t *testing.T) {
	sim := newSimTPM(t)
	ecdsaKey := func(restricted, fixed bool) tpm2.TPMTPublic {
		return tpm2.TPMTPublic{
			Type:    tpm2.TPMAlgECC,
			NameAlg: tpm2.TPMAlgSHA256,
			ObjectAttributes: tpm2.TPMAObject{
				FixedTPM: fixed, FixedParent: fixed, SensitiveDataOrigin: true,
				UserWithAuth: true, Restricted: restricted, SignEncrypt: true,
			},
			Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
				Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
				Scheme: tpm2.TPMTECCScheme{Scheme: tpm2.TPMAlgECDSA,
					Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256})},
				CurveID: tpm2.TPMECCNistP256,
				KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
			}),
		}
	}
	for _, tc := range []struct {
		name     string
		template tpm2.TPMTPublic
		want     string
	}{
		{"unrestricted signing key", ecdsaKey(false, true), "tpmquote: ak is not a restricted signing key"},
		{"duplicable restricted key", ecdsaKey(true, false), "tpmquote: ak is exportable (fixedTPM and fixedParent must be set)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pub, data, att, sig := tpmtest.CreateKey(t, sim.tpm, tc.template)
			_, err := tpmquote.VerifyAK(tpmquote.AKParameters{Public: pub, CreationData: data, CreationAttest: att, CreationSignature: sig})
			wantRefusal(t, err, tpmquote.ReasonAKInvalid, tc.want)
		})
	}
	t.Run("the same template restricted and fixed passes", func(t *testing.T) {
		pub, data, att, sig := tpmtest.CreateKey(t, sim.tpm, ecdsaKey(true, true))
		if _, err := tpmquote.VerifyAK(tpmquote.AKParameters{Public: pub, CreationData: data, CreationAttest: att, CreationSignature: sig}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestParseEKRequirement(t *testing.T) {
	for _, r := range []tpmquote.EKRequirement{tpmquote.RequireCertificate, tpmquote.RequireHash, tpmquote.RequireEither, tpmquote.RequireBoth} {
		if got, err := tpmquote.ParseEKRequirement(r.String()); err != nil || got != r {
			t.Errorf("ParseEKRequirement(%q) = %v, %v", r.String(), got, err)
		}
	}
	if _, err := tpmquote.ParseEKRequirement("none"); err == nil || err.Error() != `tpmquote: unknown EK requirement "none" (want certificate, hash, either or both)` {
		t.Errorf("err = %v", err)
	}
}
