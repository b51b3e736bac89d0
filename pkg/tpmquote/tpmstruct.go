package tpmquote

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// unmarshalTPM decodes a TPM structure. It does not require canonical bytes:
// no decoded structure is trusted for its bytes alone. Signed structures
// (attestations) are decoded only after their signature over the raw bytes
// verified, and a TPM never signs trailing data; the AK name is the hash of
// the public area as sent and must equal the name the TPM certified (and the
// credential is bound to it); the EK is compared by key.
// A panic inside the decoder is turned into an error: evidence is
// attacker-controlled and must never crash a verifier.
func unmarshalTPM[T tpm2.Marshallable, P interface {
	*T
	tpm2.Unmarshallable
}](what string, b []byte) (v *T, err error) {
	defer func() {
		if r := recover(); r != nil {
			v, err = nil, refuse(ReasonMalformed, "%s: undecodable TPM structure", what)
		}
	}()
	v, err = tpm2.Unmarshal[T, P](b)
	if err != nil {
		return nil, refuse(ReasonMalformed, "%s: %w", what, err)
	}
	return v, nil
}

// publicKey converts a TPMT_PUBLIC to a crypto public key, RSA or ECC only,
// refusing degenerate keys.
func publicKey(what string, pub *tpm2.TPMTPublic) (key crypto.PublicKey, err error) {
	defer func() {
		if r := recover(); r != nil {
			key, err = nil, refuse(ReasonMalformed, "%s: undecodable public key", what)
		}
	}()
	key, err = tpm2.Pub(*pub)
	if err != nil {
		return nil, refuse(ReasonMalformed, "%s: %w", what, err)
	}
	switch k := key.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return nil, refuse(ReasonMalformed, "%s: RSA key of %d bits, want at least 2048", what, k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if !k.Curve.IsOnCurve(k.X, k.Y) { //nolint:staticcheck // the point comes from untrusted bytes
			return nil, refuse(ReasonMalformed, "%s: ECC point not on curve", what)
		}
	default:
		return nil, refuse(ReasonMalformed, "%s: unsupported key type %T", what, key)
	}
	return key, nil
}

// verifySignature checks a TPMT_SIGNATURE over data by key, with the hash the
// signature names, which must be want.
func verifySignature(key crypto.PublicKey, want crypto.Hash, data []byte, sig *tpm2.TPMTSignature) error {
	var sigHash tpm2.TPMIAlgHash
	check := func() error { return nil }
	switch sig.SigAlg {
	case tpm2.TPMAlgRSASSA, tpm2.TPMAlgRSAPSS:
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("RSA signature for a %T key", key)
		}
		var s *tpm2.TPMSSignatureRSA
		var err error
		if sig.SigAlg == tpm2.TPMAlgRSASSA {
			s, err = sig.Signature.RSASSA()
		} else {
			s, err = sig.Signature.RSAPSS()
		}
		if err != nil {
			return fmt.Errorf("signature: %w", err)
		}
		sigHash = s.Hash
		check = func() error {
			digest := hashOf(want, data)
			if sig.SigAlg == tpm2.TPMAlgRSASSA {
				return rsa.VerifyPKCS1v15(k, want, digest, s.Sig.Buffer)
			}
			return rsa.VerifyPSS(k, want, digest, s.Sig.Buffer, nil)
		}
	case tpm2.TPMAlgECDSA:
		k, ok := key.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("ECDSA signature for a %T key", key)
		}
		s, err := sig.Signature.ECDSA()
		if err != nil {
			return fmt.Errorf("signature: %w", err)
		}
		sigHash = s.Hash
		check = func() error {
			r := new(big.Int).SetBytes(s.SignatureR.Buffer)
			ss := new(big.Int).SetBytes(s.SignatureS.Buffer)
			if !ecdsa.Verify(k, hashOf(want, data), r, ss) {
				return fmt.Errorf("ECDSA verification failed")
			}
			return nil
		}
	default:
		return fmt.Errorf("unsupported signature algorithm 0x%04x", uint16(sig.SigAlg))
	}
	if HashAlg(sigHash).Hash() != want {
		return fmt.Errorf("signature hash %s, want %s", HashAlg(sigHash), want)
	}
	if err := check(); err != nil {
		return fmt.Errorf("signature does not verify: %w", err)
	}
	return nil
}

func hashOf(h crypto.Hash, data []byte) []byte {
	d := h.New()
	d.Write(data)
	return d.Sum(nil)
}

// hashMatches reports whether digest is h(data); for SHA-256, the hash of
// most events, without allocating (it runs for every boot component).
func hashMatches(h crypto.Hash, data, digest []byte) bool {
	if h == crypto.SHA256 {
		sum := sha256.Sum256(data)
		return bytes.Equal(sum[:], digest)
	}
	return bytes.Equal(hashOf(h, data), digest)
}
