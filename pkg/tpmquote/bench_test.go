package tpmquote

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-attestation/attest"
	"github.com/google/go-tpm/tpm2"
)

type benchEvidence struct {
	Roots       string      `json:"roots"`
	Attestation Attestation `json:"attestation"`
	Challenge   Challenge   `json:"challenge"`
	Response    Response    `json:"response"`
}

func loadBenchEvidence(b *testing.B) (*benchEvidence, *x509.CertPool) {
	raw, err := os.ReadFile(filepath.Join("testdata", "bench", "evidence.json"))
	if err != nil {
		b.Fatal(err)
	}
	var ev benchEvidence
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(ev.Roots)) {
		b.Fatal("no roots")
	}
	return &ev, pool
}

// BenchmarkVerify measures one whole verification of recorded simulator
// evidence: EK certificate chain, AK checks, the credential for the EK,
// the activated secret, the quote, and a 103-event boot log replayed in the
// SHA-256 bank. The recorded secret and nonce replace the fresh ones so the
// recorded response verifies.
//
// The secure boot decision is memoised across attestations (sbcache.go):
// every iteration after the first is a hit, as for a fleet of one firmware
// configuration. BenchmarkVerifyUnmemoised decides it in full each time.
func BenchmarkVerify(b *testing.B) { benchmarkVerify(b, secureBoots) }

// BenchmarkVerifyUnmemoised is BenchmarkVerify with every secure boot
// decision made in full: go-attestation's ParseSecurebootState decoding
// every signature database. It is the cost of a node whose PCR 2 and 7
// events the verifier has not seen, and the "before" of the memo.
func BenchmarkVerifyUnmemoised(b *testing.B) { benchmarkVerify(b, nil) }

func benchmarkVerify(b *testing.B, sb *secureBootMemo) {
	ev, pool := loadBenchEvidence(b)
	// The recorded certificates never expire (internal/repocheck
	// TestNoFixtureCertificateExpires); verifying at a time taken from the
	// certificate keeps the benchmark independent of the clock all the same.
	ekCert, err := x509.ParseCertificate(ev.Attestation.EKCertificate)
	if err != nil {
		b.Fatal(err)
	}
	at := ekCert.NotBefore.Add(time.Minute)
	v, err := NewVerifier(Options{EK: EKPolicy{Roots: pool, CurrentTime: at}, PCRs: ev.Challenge.PCRs})
	if err != nil {
		b.Fatal(err)
	}
	v.secureBoot = sb
	b.ReportAllocs()
	for b.Loop() {
		_, s, err := v.Challenge(&ev.Attestation)
		if err != nil {
			b.Fatal(err)
		}
		s.secret, s.nonce = ev.Response.Secret, ev.Challenge.Nonce
		res, err := s.Verify(&ev.Response)
		if err != nil {
			b.Fatal(err)
		}
		if res.Boot == nil || res.Boot.Events < 100 {
			b.Fatalf("replayed %v", res.Boot)
		}
	}
}

// BenchmarkVerifyFloor measures, on the same evidence, only the operations a
// verification cannot avoid: the CA signature on the EK certificate, the AK
// creation signature and creation-data hash, the RSA-OAEP encryption of the
// credential seed to the EK, the quote signature and PCR digest, the SHA-256
// extends of the boot log, and the random secret and nonce.
func BenchmarkVerifyFloor(b *testing.B) {
	ev, pool := loadBenchEvidence(b)
	_ = pool
	ekCert, err := x509.ParseCertificate(ev.Attestation.EKCertificate)
	if err != nil {
		b.Fatal(err)
	}
	block, _ := pem.Decode([]byte(ev.Roots))
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		b.Fatal(err)
	}
	caKey := ca.PublicKey.(*ecdsa.PublicKey)
	ekKey := ekCert.PublicKey.(*rsa.PublicKey)
	akPub, _ := tpm2.Unmarshal[tpm2.TPMTPublic](ev.Attestation.AK.Public)
	akKeyAny, _ := tpm2.Pub(*akPub)
	akKey := akKeyAny.(*ecdsa.PublicKey)
	creationSig, _ := tpm2.Unmarshal[tpm2.TPMTSignature](ev.Attestation.AK.CreationSignature)
	quoteSig, _ := tpm2.Unmarshal[tpm2.TPMTSignature](ev.Response.QuoteSignature)
	cs, _ := creationSig.Signature.ECDSA()
	qs, _ := quoteSig.Signature.ECDSA()
	el, err := attest.ParseEventLog(ev.Response.EventLog)
	if err != nil {
		b.Fatal(err)
	}
	var digests [][]byte
	for _, e := range el.Events(attest.HashSHA256) {
		if e.Index <= 9 && e.Type != 3 {
			digests = append(digests, e.Digest)
		}
	}
	caSigned := sha256.Sum256(ekCert.RawTBSCertificate)
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(caKey, caSigned[:], ekCert.Signature) {
			b.Fatal("ek cert signature")
		}
		d := sha256.Sum256(ev.Attestation.AK.CreationAttest)
		sha256.Sum256(ev.Attestation.AK.CreationData)
		ecdsaVerify(b, akKey, d[:], cs)
		seed := make([]byte, 64)
		rand.Read(seed)
		if _, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, ekKey, seed[:32], []byte("IDENTITY\x00")); err != nil {
			b.Fatal(err)
		}
		q := sha256.Sum256(ev.Response.Quote)
		ecdsaVerify(b, akKey, q[:], qs)
		h := sha256.New()
		for _, v := range ev.Response.PCRs[SHA256] {
			h.Write(v)
		}
		h.Sum(nil)
		pcr := make([]byte, 32)
		for _, dg := range digests {
			x := sha256.New()
			x.Write(pcr)
			x.Write(dg)
			pcr = x.Sum(pcr[:0])
		}
	}
}

func ecdsaVerify(b *testing.B, k *ecdsa.PublicKey, digest []byte, s *tpm2.TPMSSignatureECC) {
	if !ecdsa.Verify(k, digest, bigInt(s.SignatureR.Buffer), bigInt(s.SignatureS.Buffer)) {
		b.Fatal("ecdsa")
	}
}

func bigInt(b []byte) *big.Int { return new(big.Int).SetBytes(b) }
