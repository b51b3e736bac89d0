package tdx

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/pkg/tdxquote"
)

// PluginName is the plugin's name on both sides ("tdx:<value>" selectors).
const PluginName = "tdx"

// Size limits of the messages.
const (
	MaxHelloSize    = 4 << 10
	MaxResponseSize = 2*tdxquote.MaxQuoteSize + 4<<10
)

// Hello is the agent's first message.
type Hello struct {
	Version int `json:"version"`
	// Key is the agent key's PKIX DER (ECDSA P-256).
	Key []byte `json:"key"`
}

// Response answers the nonce.
type Response struct {
	// Quote is the TD quote as the guest returned it.
	Quote []byte `json:"quote"`
	// Signature is the agent key's ASN.1 ECDSA signature over
	// SHA-256(ProofMessage(nonce, trust domain)).
	Signature []byte `json:"signature"`
}

// ProofMessage is what the agent key signs: a tag, the nonce and the trust
// domain.
func ProofMessage(nonce []byte, trustDomain string) []byte {
	m := append([]byte("hwattest tdx proof of possession v1\x00"), nonce...)
	return append(append(m, 0), trustDomain...)
}

// ParseKey parses an agent key (PKIX DER, ECDSA P-256 only).
func ParseKey(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("tdx: agent key: %w", err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, errors.New("tdx: agent key is not an ECDSA P-256 key")
	}
	return ek, nil
}

// VerifyProof checks the agent key's signature over the nonce and trust
// domain.
func VerifyProof(key *ecdsa.PublicKey, nonce []byte, trustDomain string, sig []byte) error {
	d := sha256.Sum256(ProofMessage(nonce, trustDomain))
	if !ecdsa.VerifyASN1(key, d[:], sig) {
		return errors.New("tdx: the agent key's signature over the nonce does not verify")
	}
	return nil
}

// Decode decodes a JSON message of at most max bytes, refusing unknown
// fields and trailing data.
func Decode(b []byte, max int, v any) error {
	if len(b) > max {
		return fmt.Errorf("tdx: message is %d bytes, more than %d", len(b), max)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("tdx: message: %w", err)
	}
	if dec.More() {
		return errors.New("tdx: message: trailing data")
	}
	return nil
}

// AgentID returns the agent's SPIFFE ID for its key (PKIX DER).
func AgentID(td spiffeid.TrustDomain, key []byte) (spiffeid.ID, error) {
	sum := sha256.Sum256(key)
	return spiffeid.FromSegments(td, "spire", "agent", PluginName, hex.EncodeToString(sum[:]))
}

// Selectors returns the selector values (without "tdx:") for a verified
// quote and the policies it satisfied, sorted:
//
//	key_hash:<hex>                      the agent key (the agent ID's segment)
//	mrtd:<hex>, mrseam:<hex>            TD and TDX module measurements
//	rtmr0:<hex> ... rtmr3:<hex>         run-time measurement registers
//	mr_config_id:<hex>, mr_owner:<hex>, mr_owner_config:<hex>
//	td_attributes:<hex>, xfam:<hex>, tee_tcb_svn:<hex>
//	debug:enabled|disabled              the TD's DEBUG attribute
//	policy:<name>                       each satisfied policy
func Selectors(keyHash string, res *tdxquote.Result, policies []string) []string {
	h := hex.EncodeToString
	sel := []string{
		"key_hash:" + keyHash,
		"mrtd:" + h(res.MRTD), "mrseam:" + h(res.MRSeam),
		"mr_config_id:" + h(res.MRConfigID), "mr_owner:" + h(res.MROwner), "mr_owner_config:" + h(res.MROwnerConfig),
		"td_attributes:" + h(res.TDAttributes), "xfam:" + h(res.XFAM), "tee_tcb_svn:" + h(res.TeeTCBSVN),
	}
	for i, r := range res.RTMRs {
		sel = append(sel, fmt.Sprintf("rtmr%d:%s", i, h(r)))
	}
	if res.Debug() {
		sel = append(sel, "debug:enabled")
	} else {
		sel = append(sel, "debug:disabled")
	}
	for _, p := range policies {
		sel = append(sel, "policy:"+p)
	}
	sort.Strings(sel)
	return slices.Compact(sel)
}
