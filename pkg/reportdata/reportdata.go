package reportdata

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
)

// Size is the length of REPORT_DATA in SEV-SNP reports and TDX quotes.
const Size = 64

// NonceSize is the length of the verifier's nonce: 32 bytes from
// crypto/rand, enough that a nonce never repeats.
const NonceSize = 32

// domainTag separates hwattest's trust-domain digest from any other use of
// SHA-256 over a trust domain name.
const domainTag = "hwattest report data v1"

var (
	// ErrNonce: the report does not carry this attestation's nonce. It was
	// made for another challenge (a replayed report) or for none.
	ErrNonce = errors.New("reportdata: the report does not carry this attestation's nonce (replayed or not made for this challenge)")
	// ErrTrustDomain: the report carries the nonce but binds another SPIRE
	// trust domain (a report relayed from another deployment's challenge).
	ErrTrustDomain = errors.New("reportdata: the report binds another trust domain")
)

// New returns the REPORT_DATA binding nonce and trustDomain.
func New(nonce []byte, trustDomain string) ([Size]byte, error) {
	var out [Size]byte
	if len(nonce) != NonceSize {
		return out, fmt.Errorf("reportdata: nonce is %d bytes, want %d", len(nonce), NonceSize)
	}
	if trustDomain == "" {
		return out, errors.New("reportdata: empty trust domain")
	}
	copy(out[:NonceSize], nonce)
	d := domainDigest(trustDomain)
	copy(out[NonceSize:], d[:])
	return out, nil
}

// Check returns nil when got is the REPORT_DATA that New returns for nonce
// and trustDomain, ErrNonce when the nonce half differs and ErrTrustDomain
// when only the trust domain half does. The nonce is compared in constant
// time.
func Check(got, nonce []byte, trustDomain string) error {
	if len(got) != Size {
		return fmt.Errorf("reportdata: report data is %d bytes, want %d", len(got), Size)
	}
	want, err := New(nonce, trustDomain)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got[:NonceSize], want[:NonceSize]) != 1 {
		return ErrNonce
	}
	if subtle.ConstantTimeCompare(got[NonceSize:], want[NonceSize:]) != 1 {
		return ErrTrustDomain
	}
	return nil
}

func domainDigest(trustDomain string) [sha256.Size]byte {
	h := sha256.New()
	h.Write([]byte(domainTag))
	h.Write([]byte{0})
	h.Write([]byte(trustDomain))
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// keyTag separates the key-binding digest from the trust-domain-only one.
const keyTag = "hwattest report data v1 key"

// NewWithKey returns the REPORT_DATA binding nonce, trustDomain and the
// attester's public key (PKIX DER), for evidence that names no per-VM
// identity of its own (Intel TDX): the nonce, then
// SHA-256("hwattest report data v1 key" || 0x00 || trust domain || 0x00 || key).
func NewWithKey(nonce []byte, trustDomain string, key []byte) ([Size]byte, error) {
	var out [Size]byte
	if len(nonce) != NonceSize {
		return out, fmt.Errorf("reportdata: nonce is %d bytes, want %d", len(nonce), NonceSize)
	}
	if trustDomain == "" || len(key) == 0 {
		return out, errors.New("reportdata: empty trust domain or key")
	}
	copy(out[:NonceSize], nonce)
	h := sha256.New()
	h.Write([]byte(keyTag))
	h.Write([]byte{0})
	h.Write([]byte(trustDomain))
	h.Write([]byte{0})
	h.Write(key)
	h.Sum(out[NonceSize:NonceSize])
	return out, nil
}

// ErrTrustDomainOrKey: the report carries the nonce but binds another trust
// domain or another key than the one the attester presented.
var ErrTrustDomainOrKey = errors.New("reportdata: the report binds another trust domain or another key")

// CheckWithKey is Check for NewWithKey's layout.
func CheckWithKey(got, nonce []byte, trustDomain string, key []byte) error {
	if len(got) != Size {
		return fmt.Errorf("reportdata: report data is %d bytes, want %d", len(got), Size)
	}
	want, err := NewWithKey(nonce, trustDomain, key)
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got[:NonceSize], want[:NonceSize]) != 1 {
		return ErrNonce
	}
	if subtle.ConstantTimeCompare(got[NonceSize:], want[NonceSize:]) != 1 {
		return ErrTrustDomainOrKey
	}
	return nil
}
