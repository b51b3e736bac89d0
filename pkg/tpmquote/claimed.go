package tpmquote

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"

	"github.com/google/go-tpm/tpm2"
)

// ClaimedEKHash returns the EK hash (as EK.Hash) of the EK public area the
// attestation carries, "" when it does not parse. It is what the node
// claims, not verified: for the log line of an attestation refused before
// its EK was verified (an unknown CA, a malformed AK), so that an operator
// can tell which machine it was.
func (a *Attestation) ClaimedEKHash() string {
	pub, err := unmarshalTPM[tpm2.TPMTPublic]("ek public", a.EKPublic)
	if err != nil {
		return ""
	}
	key, err := publicKey("ek public", pub)
	if err != nil {
		return ""
	}
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}
