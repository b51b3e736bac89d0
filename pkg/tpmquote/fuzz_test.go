package tpmquote_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote"
	"github.com/hwattest/hwattest/pkg/tpmquote/attester"
)

// The fuzz targets check that no input panics, that every refusal is a
// tpmquote error with one package prefix, and that what decodes re-encodes.
// Seed corpora live in testdata/fuzz/<target>; HWATTEST_WRITE_SEEDS=1 go test
// -run TestWriteFuzzSeeds regenerates the simulator-made seeds.

func checkErr(t *testing.T, err error) {
	if err == nil {
		return
	}
	if !strings.HasPrefix(err.Error(), "tpmquote: ") || strings.HasPrefix(err.Error(), "tpmquote: tpmquote: ") {
		t.Fatalf("error without a single package prefix: %q", err)
	}
}

func FuzzDecodeAttestation(f *testing.F) {
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		att, err := tpmquote.DecodeAttestation(b)
		checkErr(t, err)
		if err != nil {
			return
		}
		if _, err := att.Marshal(); err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		_, err = tpmquote.VerifyEK(att.EKCertificate, att.EKPublic, tpmquote.EKPolicy{Require: tpmquote.RequireHash, Listed: func(string) bool { return true }})
		checkErr(t, err)
		_, err = tpmquote.VerifyAK(att.AK)
		checkErr(t, err)
	})
}

func FuzzDecodeResponse(f *testing.F) {
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := tpmquote.DecodeResponse(b)
		checkErr(t, err)
		if err == nil {
			if _, err := r.Marshal(); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

func FuzzDecodeChallenge(f *testing.F) {
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := tpmquote.DecodeChallenge(b)
		checkErr(t, err)
		if err == nil {
			if _, err := c.Marshal(); err != nil {
				t.Fatalf("re-encode: %v", err)
			}
		}
	})
}

// FuzzVerifyEK fuzzes the EK certificate and public area together.
func FuzzVerifyEK(f *testing.F) {
	f.Add([]byte{0x30, 0x00}, []byte{0x00, 0x01})
	f.Fuzz(func(t *testing.T, cert, pub []byte) {
		for _, req := range []tpmquote.EKRequirement{tpmquote.RequireCertificate, tpmquote.RequireEither} {
			_, err := tpmquote.VerifyEK(cert, pub, tpmquote.EKPolicy{Require: req, Listed: func(string) bool { return true }})
			checkErr(t, err)
		}
	})
}

// FuzzVerifyAK fuzzes each AK parameter.
func FuzzVerifyAK(f *testing.F) {
	f.Add([]byte{0}, []byte{0}, []byte{0}, []byte{0})
	f.Fuzz(func(t *testing.T, pub, data, attest, sig []byte) {
		_, err := tpmquote.VerifyAK(tpmquote.AKParameters{Public: pub, CreationData: data, CreationAttest: attest, CreationSignature: sig})
		checkErr(t, err)
	})
}

// TestWriteFuzzSeeds writes seed corpora made on the simulator.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("HWATTEST_WRITE_SEEDS") != "1" {
		t.Skip("set HWATTEST_WRITE_SEEDS=1 to regenerate the seed corpora")
	}
	sim := newSimTPM(t)
	for _, ak := range []attester.KeyAlgorithm{attester.ECC, attester.RSA} {
		for _, ekAlg := range []attester.KeyAlgorithm{attester.RSA, attester.ECC} {
			s, att := attestation(t, sim.tpm, attester.Config{EKAlgorithm: ekAlg, AKAlgorithm: ak, EventLogPath: "-"})
			ch, _, err := sim.verifier(t, tpmquote.Options{}).Challenge(att)
			if err != nil {
				t.Fatal(err)
			}
			resp := respond(t, s, ch)
			s.Close()
			name := fmt.Sprintf("sim-%s-ek-%s-ak", ekAlg, ak)
			a, _ := att.Marshal()
			c, _ := ch.Marshal()
			r, _ := resp.Marshal()
			writeSeed(t, "FuzzDecodeAttestation", name, a)
			writeSeed(t, "FuzzDecodeChallenge", name, c)
			writeSeed(t, "FuzzDecodeResponse", name, r)
			writeSeed(t, "FuzzVerifyEK", name, att.EKCertificate, att.EKPublic)
			writeSeed(t, "FuzzVerifyAK", name, att.AK.Public, att.AK.CreationData, att.AK.CreationAttest, att.AK.CreationSignature)
		}
	}
}

func writeSeed(t *testing.T, target, name string, args ...[]byte) {
	t.Helper()
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		fmt.Fprintf(&b, "[]byte(%q)\n", a)
	}
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
