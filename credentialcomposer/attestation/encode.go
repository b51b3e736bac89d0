package attestation

import (
	"sync"
	"time"
)

// memo keeps the last encoding of one requirement's claims. Claims differ
// only in iat, which has a resolution of one second: within a second every
// SVID of one SPIFFE ID gets the same bytes, encoded once. Encoding (the
// EAR's validation and JSON, the CMW, ASN.1) is most of the composer's own
// cost per SVID (bench_test.go); a requirement that changes is a new
// requirement with an empty memo.
type memo struct {
	mu      sync.Mutex
	x509Sec int64
	x509Val []byte
	jwtSec  int64
	jwtVal  []any
}

func (m *memo) x509(r *requirement, now time.Time) ([]byte, error) {
	sec := now.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.x509Val != nil && m.x509Sec == sec {
		return m.x509Val, nil
	}
	ext, err := claimsOf(r, time.Unix(sec, 0)).X509Extension()
	if err != nil {
		return nil, err
	}
	m.x509Sec, m.x509Val = sec, ext.Value
	return ext.Value, nil
}

// jwt returns the "cmw" claim's value; callers must not modify it.
func (m *memo) jwt(r *requirement, now time.Time) ([]any, error) {
	sec := now.Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.jwtVal != nil && m.jwtSec == sec {
		return m.jwtVal, nil
	}
	v, err := claimsOf(r, time.Unix(sec, 0)).JWTClaimValue()
	if err != nil {
		return nil, err
	}
	m.jwtSec, m.jwtVal = sec, v
	return v, nil
}
