package claims

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"strings"

	"github.com/spiffe/go-spiffe/v2/svid/jwtsvid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
	"github.com/veraison/cmw"
	"github.com/veraison/ear"
)

// FromCertificate decodes the claims of an X.509 certificate (an X509-SVID's
// leaf). It does not verify the certificate: decode only the leaf of a chain
// that was verified (tlsconfig's authorizers get only such chains).
//
// A certificate without the extension gives an error wrapping ErrNoClaims;
// a malformed CMW or EAR, another media type, another EAT profile or a CMW
// larger than MaxSize give an error that says which.
func FromCertificate(cert *x509.Certificate) (*Claims, error) {
	if cert == nil {
		return nil, errors.New("claims: no certificate")
	}
	var ext *pkix.Extension
	for i := range cert.Extensions {
		if !cert.Extensions[i].Id.Equal(OID) {
			continue
		}
		if ext != nil {
			return nil, errors.New("claims: two id-pe-cmw extensions")
		}
		ext = &cert.Extensions[i]
	}
	if ext == nil {
		return nil, fmt.Errorf("claims: certificate: %w (no id-pe-cmw extension, %s)", ErrNoClaims, OID)
	}
	c, err := fromExtension(*ext)
	if err != nil {
		return nil, fmt.Errorf("claims: id-pe-cmw extension: %w", err)
	}
	return c, nil
}

func fromExtension(ext pkix.Extension) (*Claims, error) {
	if len(ext.Value) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than %d", len(ext.Value), MaxSize)
	}
	// cmw.DecodeX509Extension ignores bytes after the ASN.1 value; a
	// certificate's extension is one value and nothing else.
	var raw asn1.RawValue
	if rest, err := asn1.Unmarshal(ext.Value, &raw); err != nil {
		return nil, fmt.Errorf("malformed: %w", err)
	} else if len(rest) != 0 {
		return nil, fmt.Errorf("malformed: %d bytes after the CMW", len(rest))
	}
	if raw.Class == asn1.ClassUniversal && raw.Tag == asn1.TagUTF8String {
		if err := checkJSONRecord(raw.Bytes); err != nil {
			return nil, err
		}
	}
	w, err := cmw.DecodeX509Extension(ext)
	if err != nil {
		return nil, fmt.Errorf("malformed: %w", err)
	}
	return fromCMW(w)
}

// FromX509SVID decodes the claims of an X509-SVID (its leaf certificate).
func FromX509SVID(svid *x509svid.SVID) (*Claims, error) {
	if svid == nil || len(svid.Certificates) == 0 {
		return nil, errors.New("claims: no X509-SVID certificate")
	}
	return FromCertificate(svid.Certificates[0])
}

// FromJWTClaims decodes the claims of a JWT-SVID's claims set (the "cmw"
// claim). It does not validate the token: give it the claims of a token
// that jwtsvid.ParseAndValidate accepted.
func FromJWTClaims(m map[string]any) (*Claims, error) {
	v, ok := m[JWTClaim]
	if !ok {
		return nil, fmt.Errorf("claims: JWT: %w (no %q claim)", ErrNoClaims, JWTClaim)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("claims: JWT claim %q: %w", JWTClaim, err)
	}
	c, err := fromJSON(b)
	if err != nil {
		return nil, fmt.Errorf("claims: JWT claim %q: %w", JWTClaim, err)
	}
	return c, nil
}

// FromJWTSVID decodes the claims of a JWT-SVID (validated by the caller, as
// jwtsvid.ParseAndValidate does).
func FromJWTSVID(svid *jwtsvid.SVID) (*Claims, error) {
	if svid == nil {
		return nil, errors.New("claims: no JWT-SVID")
	}
	return FromJWTClaims(svid.Claims)
}

// fromJSON decodes a CMW in its JSON form.
func fromJSON(b []byte) (*Claims, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("%d bytes, more than %d", len(b), MaxSize)
	}
	b = bytes.TrimSpace(b)
	if err := checkJSONRecord(b); err != nil {
		return nil, err
	}
	var w cmw.CMW
	if err := w.UnmarshalJSON(b); err != nil {
		return nil, fmt.Errorf("malformed CMW: %w", err)
	}
	return fromCMW(&w)
}

// fromCMW checks that w is one record of our media type and profile and
// decodes its EAR.
func fromCMW(w *cmw.CMW) (*Claims, error) {
	if w.GetKind() != cmw.KindMonad {
		return nil, fmt.Errorf("a CMW %s, not a record", w.GetKind())
	}
	mt, err := w.GetMonadType()
	if err != nil {
		return nil, fmt.Errorf("malformed CMW: %w", err)
	}
	if err := checkMediaType(mt); err != nil {
		return nil, err
	}
	if ind, err := w.GetMonadIndicator(); err == nil && !ind.Empty() && !ind.Has(cmw.AttestationResults) {
		return nil, fmt.Errorf("CMW indicator %q does not say attestation results", ind)
	}
	val, err := w.GetMonadValue()
	if err != nil {
		return nil, fmt.Errorf("malformed CMW: %w", err)
	}
	if len(val) > MaxSize {
		return nil, fmt.Errorf("EAR of %d bytes, more than %d", len(val), MaxSize)
	}
	// Read the profile first, so that an EAR of another profile is refused
	// by name (ear's own validation accepts an alias of ours too).
	var head struct {
		Profile *string `json:"eat_profile"`
	}
	if err := json.Unmarshal(val, &head); err != nil {
		return nil, fmt.Errorf("malformed EAR: %w", err)
	}
	if head.Profile == nil {
		return nil, errors.New("EAR without eat_profile")
	}
	if *head.Profile != Profile {
		return nil, fmt.Errorf("unknown EAR profile %q (this build reads %q)", *head.Profile, Profile)
	}
	var r ear.AttestationResult
	if err := r.UnmarshalJSON(val); err != nil {
		return nil, fmt.Errorf("malformed EAR: %w", err)
	}
	c, err := fromResult(&r)
	if err != nil {
		return nil, fmt.Errorf("EAR: %w", err)
	}
	return c, nil
}

// checkMediaType accepts MediaType only, however its parameter is quoted or
// cased (RFC 9782 makes eat_profile case-insensitive).
func checkMediaType(mt string) error {
	typ, params, err := mime.ParseMediaType(mt)
	if err != nil {
		return fmt.Errorf("unknown media type %q: %w", mt, err)
	}
	if typ != "application/eat-ucs+json" {
		return fmt.Errorf("unknown media type %q (this build reads %q)", mt, MediaType)
	}
	p, ok := params["eat_profile"]
	if !ok {
		return fmt.Errorf("media type %q without eat_profile (this build reads %q)", mt, MediaType)
	}
	if len(params) != 1 || !strings.EqualFold(p, Profile) {
		return fmt.Errorf("unknown EAT profile in media type %q (this build reads %q)", mt, MediaType)
	}
	return nil
}

// checkJSONRecord checks the shape of a CMW in its JSON form before
// github.com/veraison/cmw v0.2.0 decodes it: that version slices a record's
// value without checking that it is a JSON string, and panics on `["",0]`
// (found by FuzzDecode). Only a record is ours; a collection is refused here
// too.
func checkJSONRecord(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		return errors.New("a CMW collection, not a record")
	}
	var rec []json.RawMessage
	if err := json.Unmarshal(b, &rec); err != nil {
		return fmt.Errorf("malformed CMW: not a JSON record: %w", err)
	}
	if len(rec) < 2 || len(rec) > 3 {
		return fmt.Errorf("malformed CMW: a record of %d entries", len(rec))
	}
	var v string
	if err := json.Unmarshal(rec[1], &v); err != nil {
		return errors.New("malformed CMW: the value is not a string")
	}
	return nil
}
