package tpmquote

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// FuzzEventLog fuzzes the boot event log parser and replay against fixed
// PCR values, seeded with the real logs in testdata/eventlogs.
func FuzzEventLog(f *testing.F) {
	logs, _ := filepath.Glob(filepath.Join("testdata", "eventlogs", "*.bin"))
	for _, p := range logs {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	pcrs := PCRValues{SHA1: {}, SHA256: {}}
	for i := 0; i < 8; i++ {
		pcrs[SHA1][i] = make([]byte, 20)
		pcrs[SHA256][i] = make([]byte, 32)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if len(raw) > MaxEventLogSize {
			return
		}
		_, err := replayBootLog(raw, pcrs, false, secureBoots)
		if err != nil && (!strings.HasPrefix(err.Error(), "tpmquote: ") || ReasonOf(err) == "") {
			t.Fatalf("unexpected error form: %v", err)
		}
	})
}

// FuzzQuote fuzzes the quote and its signature against a session whose AK
// and nonce are fixed.
func FuzzQuote(f *testing.F) {
	q, sig := signedQuoteSeed(f)
	f.Add(q, sig)
	f.Fuzz(func(t *testing.T, quote, sig []byte) {
		s := fuzzSession(t)
		resp := &Response{Version: Version, Secret: s.secret, Quote: quote, QuoteSignature: sig,
			PCRs: PCRValues{SHA256: {0: make([]byte, 32)}}}
		if len(quote) == 0 || len(sig) == 0 || len(quote) > MaxAttestSize || len(sig) > MaxSignatureSize {
			return
		}
		_, err := s.Verify(resp)
		if err == nil {
			t.Fatal("a fuzzed quote verified")
		}
		if !strings.HasPrefix(err.Error(), "tpmquote: ") || ReasonOf(err) == "" {
			t.Fatalf("unexpected error form: %v", err)
		}
	})
}

// fuzzKey is the software AK of fuzzSession: a quote signed by it exercises
// the parser past the signature check.
var fuzzKey = func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}()

func fuzzSession(t *testing.T) *Session {
	v, err := NewVerifier(Options{PCRs: PCRSelection{SHA256: {0}}})
	if err != nil {
		t.Fatal(err)
	}
	return &Session{v: v, att: &Attestation{}, ek: &EK{}, ak: &AK{Name: []byte{0, 0xb}, Public: &fuzzKey.PublicKey, Hash: crypto.SHA256},
		secret: make([]byte, SecretSize), nonce: make([]byte, NonceSize), pcrs: PCRSelection{SHA256: {0}}}
}

// signedQuoteSeed returns a quote over sha256 PCR 0 (all zeros) with a wrong
// nonce, signed by fuzzKey.
func signedQuoteSeed(t testing.TB) (quote, sig []byte) {
	pcrDigest := sha256.Sum256(make([]byte, 32))
	att := tpm2.TPMSAttest{
		Magic:     tpm2.TPMGeneratedValue,
		Type:      tpm2.TPMSTAttestQuote,
		ExtraData: tpm2.TPM2BData{Buffer: bytes.Repeat([]byte{1}, NonceSize)},
		Attested: tpm2.NewTPMUAttest(tpm2.TPMSTAttestQuote, &tpm2.TPMSQuoteInfo{
			PCRSelect: PCRSelection{SHA256: {0}}.TPML(),
			PCRDigest: tpm2.TPM2BDigest{Buffer: pcrDigest[:]},
		}),
	}
	quote = tpm2.Marshal(att)
	d := sha256.Sum256(quote)
	r, s, err := ecdsa.Sign(rand.Reader, fuzzKey, d[:])
	if err != nil {
		t.Fatal(err)
	}
	sig = tpm2.Marshal(tpm2.TPMTSignature{
		SigAlg: tpm2.TPMAlgECDSA,
		Signature: tpm2.NewTPMUSignature(tpm2.TPMAlgECDSA, &tpm2.TPMSSignatureECC{
			Hash:       tpm2.TPMAlgSHA256,
			SignatureR: tpm2.TPM2BECCParameter{Buffer: r.Bytes()},
			SignatureS: tpm2.TPM2BECCParameter{Buffer: s.Bytes()},
		}),
	})
	return quote, sig
}

func TestFuzzQuoteSeedReachesNonceCheck(t *testing.T) {
	q, sig := signedQuoteSeed(t)
	s := fuzzSession(t)
	_, err := s.Verify(&Response{Version: Version, Secret: s.secret, Quote: q, QuoteSignature: sig,
		PCRs: PCRValues{SHA256: {0: make([]byte, 32)}}})
	if err == nil || err.Error() != "tpmquote: quote: nonce does not match the challenge" {
		t.Fatalf("err = %v", err)
	}
}
