package claims

import (
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/veraison/ear"
)

// The wire format, in one place. Changing the EAR profile (to the claim
// names of draft-ietf-rats-ear -03 and later, say) changes these and the
// functions of this file; every encoder and decoder of the project goes
// through them.
const (
	// Profile is the EAT profile of the attestation results: the one that
	// github.com/veraison/ear v1.1.3 implements (dotted claim names,
	// "ear.status"), which Veraison's own tools read.
	Profile = ear.EatProfile

	// MediaType is the CMW record's media type: an unsigned EAT claims set
	// (UCCS) in JSON, application/eat-ucs+json (RFC 9782, section 3, the
	// published draft-ietf-rats-eat-media-type), with the profile as its
	// eat_profile parameter (RFC 9782, section 4.1). The claims set is not
	// signed on its own: the SVID's signature (the X.509 certificate's, or
	// the JWT's) protects it, as draft-ietf-rats-msg-wrap's section on the
	// X.509 extension intends for attestation results bound to a key.
	MediaType = `application/eat-ucs+json; eat_profile="` + Profile + `"`

	// JWTClaim is the JWT claim that carries the CMW (draft-ietf-rats-msg-wrap,
	// the "cmw" JWT claim).
	JWTClaim = "cmw"

	// SubmodNode and SubmodWorkload are the EAR submodules: the node (the
	// SPIRE agent's host, from node attestation) and the workload (from
	// workload attestation).
	SubmodNode     = "node"
	SubmodWorkload = "workload"

	// Developer is the verifier identity's developer.
	Developer = "https://github.com/hwattest/hwattest"
)

// Annotated evidence keys (ear.veraison.annotated-evidence) of a submod.
const (
	// evidenceSelectors: the selectors SPIRE required, "type:value".
	evidenceSelectors = "selectors"
	// evidenceAgentID: the agent's SPIFFE ID (node submod).
	evidenceAgentID = "agent-id"
	// evidenceAttestedAt: when the node last attested, Unix seconds (node submod).
	evidenceAttestedAt = "attested-at"
)

// Size limits.
const (
	// MaxSize bounds the CMW as carried: the X.509 extension's value, or the
	// JSON of the JWT claim. The claims of one SVID are a few hundred bytes
	// to a few KiB; a node with many exposed PCRs and boot components has a few
	// hundred selectors of up to about 80 bytes.
	MaxSize = 64 << 10
	// MaxSelectors bounds the selectors of one submod.
	MaxSelectors = 1024
)

// OID is the X.509 extension id-pe-cmw, 1.3.6.1.5.5.7.1.35
// (draft-ietf-rats-msg-wrap). It is not critical.
var OID = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 35}

// ErrNoClaims is returned (wrapped) when an SVID carries no CMW at all. A
// relying party that requires claims must refuse it; it never means "no
// requirement".
var ErrNoClaims = errors.New("no attestation claims")

// Claims are the attestation results one SVID carries.
// Its JSON form (the field tags) is stable: tools may print it.
type Claims struct {
	// IssuedAt is when the SPIRE server's composer wrote them (EAR iat).
	IssuedAt time.Time `json:"issued_at"`
	// Verifier is the verifier identity's build, e.g. "hwattest v1.2.0".
	Verifier string `json:"verifier"`
	// Node is the node's appraisal; never nil in decoded claims.
	Node *Appraisal `json:"node"`
	// Workload is the workload's appraisal; nil in an agent's SVID.
	Workload *Appraisal `json:"workload,omitempty"`
}

// Appraisal is one submod of the EAR.
type Appraisal struct {
	// Status is the submod's ear.status: affirming when the selectors that
	// SPIRE required set at least one component of the trustworthiness
	// vector (and none worse), none when they set none.
	Status ear.TrustTier `json:"status"`
	// TrustVector is its AR4SI trustworthiness vector.
	TrustVector ear.TrustVector `json:"trust_vector"`
	// Selectors are the selectors SPIRE required ("type:value", sorted):
	// for the workload, those of its registration entries (only those all
	// of them share); for the node, those of the entries' parents (a node
	// alias's selectors, or the agent's attested selectors).
	Selectors []string `json:"selectors"`
	// AgentID is the agent's SPIFFE ID, when the entries name one agent
	// (node submod; empty otherwise).
	AgentID string `json:"agent_id,omitempty"`
	// AttestedAt is when that agent last attested, as SPIRE recorded it
	// (node submod; zero when unknown).
	AttestedAt time.Time `json:"attested_at,omitzero"`
}

// HasSelector reports whether the appraisal lists selector ("type:value").
func (a *Appraisal) HasSelector(selector string) bool {
	if a == nil {
		return false
	}
	_, found := slices.BinarySearch(a.Selectors, selector)
	return found
}

// SelectorValues returns the values of the selectors whose type:prefix is
// typePrefix, e.g. "container:image_digest:" gives the digests.
func (a *Appraisal) SelectorValues(typePrefix string) []string {
	if a == nil {
		return nil
	}
	var out []string
	for _, s := range a.Selectors {
		if v, ok := strings.CutPrefix(s, typePrefix); ok {
			out = append(out, v)
		}
	}
	return out
}

// result turns c into an EAR.
func (c *Claims) result() (*ear.AttestationResult, error) {
	if c.Node == nil {
		return nil, errors.New("no node appraisal")
	}
	profile := Profile
	iat := c.IssuedAt.Unix()
	build := c.Verifier
	developer := Developer
	r := &ear.AttestationResult{
		Profile:    &profile,
		IssuedAt:   &iat,
		VerifierID: &ear.VerifierIdentity{Build: &build, Developer: &developer},
		Submods:    map[string]*ear.Appraisal{SubmodNode: c.Node.appraisal(true)},
	}
	if c.Workload != nil {
		r.Submods[SubmodWorkload] = c.Workload.appraisal(false)
	}
	return r, nil
}

func (a *Appraisal) appraisal(node bool) *ear.Appraisal {
	status := a.Status
	tv := a.TrustVector
	ev := map[string]any{evidenceSelectors: nonNil(a.Selectors)}
	if node && a.AgentID != "" {
		ev[evidenceAgentID] = a.AgentID
	}
	if node && !a.AttestedAt.IsZero() {
		ev[evidenceAttestedAt] = a.AttestedAt.Unix()
	}
	return &ear.Appraisal{
		Status:              &status,
		TrustVector:         &tv,
		AppraisalExtensions: ear.AppraisalExtensions{VeraisonAnnotatedEvidence: &ev},
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// fromResult reads our claims out of a decoded EAR.
func fromResult(r *ear.AttestationResult) (*Claims, error) {
	if r.Profile == nil || *r.Profile != Profile {
		return nil, fmt.Errorf("unknown EAR profile %q", deref(r.Profile))
	}
	c := &Claims{IssuedAt: time.Unix(*r.IssuedAt, 0).UTC()}
	if r.VerifierID != nil && r.VerifierID.Build != nil {
		c.Verifier = *r.VerifierID.Build
	}
	n, ok := r.Submods[SubmodNode]
	if !ok {
		return nil, fmt.Errorf("no %q submod", SubmodNode)
	}
	var err error
	if c.Node, err = toAppraisal(n, true); err != nil {
		return nil, fmt.Errorf("submod %q: %w", SubmodNode, err)
	}
	if w, ok := r.Submods[SubmodWorkload]; ok {
		if c.Workload, err = toAppraisal(w, false); err != nil {
			return nil, fmt.Errorf("submod %q: %w", SubmodWorkload, err)
		}
	}
	return c, nil
}

func toAppraisal(e *ear.Appraisal, node bool) (*Appraisal, error) {
	a := &Appraisal{Status: *e.Status}
	if e.TrustVector != nil {
		a.TrustVector = *e.TrustVector
	}
	if e.VeraisonAnnotatedEvidence == nil {
		return nil, errors.New("no annotated evidence")
	}
	ev := *e.VeraisonAnnotatedEvidence
	raw, ok := ev[evidenceSelectors].([]any)
	if !ok {
		return nil, fmt.Errorf("annotated evidence %q: not a list", evidenceSelectors)
	}
	if len(raw) > MaxSelectors {
		return nil, fmt.Errorf("annotated evidence %q: %d selectors, more than %d", evidenceSelectors, len(raw), MaxSelectors)
	}
	for _, v := range raw {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("annotated evidence %q: a selector is not a string", evidenceSelectors)
		}
		a.Selectors = append(a.Selectors, s)
	}
	if !slices.IsSorted(a.Selectors) {
		return nil, fmt.Errorf("annotated evidence %q: not sorted", evidenceSelectors)
	}
	if !node {
		return a, nil
	}
	if v, ok := ev[evidenceAgentID]; ok {
		if a.AgentID, ok = v.(string); !ok {
			return nil, fmt.Errorf("annotated evidence %q: not a string", evidenceAgentID)
		}
	}
	if v, ok := ev[evidenceAttestedAt]; ok {
		f, ok := v.(float64)
		if !ok || f != float64(int64(f)) || f <= 0 {
			return nil, fmt.Errorf("annotated evidence %q: not a positive integer", evidenceAttestedAt)
		}
		a.AttestedAt = time.Unix(int64(f), 0).UTC()
	}
	return a, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
