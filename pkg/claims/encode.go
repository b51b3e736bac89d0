package claims

import (
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"

	"github.com/veraison/cmw"
)

// wrap encodes c as an EAR (validated by github.com/veraison/ear) inside a
// CMW record with the attestation results indicator.
func (c *Claims) wrap() (*cmw.CMW, error) {
	r, err := c.result()
	if err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	if c.Node != nil && len(c.Node.Selectors) > MaxSelectors || c.Workload != nil && len(c.Workload.Selectors) > MaxSelectors {
		return nil, fmt.Errorf("claims: more than %d selectors in a submod", MaxSelectors)
	}
	body, err := r.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("claims: encode EAR: %w", err)
	}
	w, err := cmw.NewMonad(MediaType, body, cmw.AttestationResults)
	if err != nil {
		return nil, fmt.Errorf("claims: wrap EAR: %w", err)
	}
	return w, nil
}

// X509Extension encodes c as the id-pe-cmw extension (not critical), the CMW
// in its JSON form (UTF8String), which `openssl x509 -text` shows readably.
// It refuses claims whose encoding exceeds MaxSize: the decoders would
// refuse them.
func (c *Claims) X509Extension() (pkix.Extension, error) {
	w, err := c.wrap()
	if err != nil {
		return pkix.Extension{}, err
	}
	ext, err := w.EncodeX509Extension(cmw.ChoiceJson, false)
	if err != nil {
		return pkix.Extension{}, fmt.Errorf("claims: encode extension: %w", err)
	}
	if len(ext.Value) > MaxSize {
		return pkix.Extension{}, fmt.Errorf("claims: extension of %d bytes, more than %d", len(ext.Value), MaxSize)
	}
	return *ext, nil
}

// JWTClaimValue encodes c as the value of the JWT claim JWTClaim: the CMW
// record in its JSON form, [media type, base64url EAR, indicator], as the
// generic JSON values a JWT library marshals ([]any of string and float64).
func (c *Claims) JWTClaimValue() ([]any, error) {
	w, err := c.wrap()
	if err != nil {
		return nil, err
	}
	b, err := w.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("claims: encode CMW: %w", err)
	}
	if len(b) > MaxSize {
		return nil, fmt.Errorf("claims: CMW of %d bytes, more than %d", len(b), MaxSize)
	}
	var v []any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("claims: encode CMW: %w", err)
	}
	return v, nil
}
