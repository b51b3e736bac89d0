package provenance

import (
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	prov02 "github.com/in-toto/attestation/go/predicates/provenance/v02"
	prov1 "github.com/in-toto/attestation/go/predicates/provenance/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"
)

// Candidate is a bundle found for a digest, not yet verified.
type Candidate struct {
	// Origin says where it was found: "registry <repo> referrer
	// <manifest digest> layer <blob digest>" or "dir <path>".
	Origin string
	// Raw is the bundle's JSON; nil when Err is set.
	Raw []byte
	// Err is why the candidate could not be read (too large, not a
	// bundle, a manifest for another subject, ...).
	Err error
}

// Signer is what a verified signing certificate says about its signer.
type Signer struct {
	Issuer           string `json:"issuer"`
	SAN              string `json:"san"`
	SourceRepository string `json:"source_repository,omitempty"`
	SourceRef        string `json:"source_ref,omitempty"`
	SourceDigest     string `json:"source_digest,omitempty"`
	BuildSignerURI   string `json:"build_signer_uri,omitempty"`
}

// BundleResult is what one candidate bundle proved.
type BundleResult struct {
	Origin string `json:"origin"`
	// Err is why the bundle proved nothing: unreadable, malformed, or
	// verified against none of the policies' trusted roots for this
	// digest. Nil when it verified against at least one trusted root.
	Err error `json:"-"`
	// Signer, PredicateType, BuilderID and BuildType are the verified
	// facts (set when Err is nil).
	Signer        *Signer `json:"signer,omitempty"`
	PredicateType string  `json:"predicate_type,omitempty"`
	BuilderID     string  `json:"builder_id,omitempty"`
	BuildType     string  `json:"build_type,omitempty"`
	// Policies are the policies checked and why each failed (nil error:
	// satisfied).
	Policies []PolicyOutcome `json:"policies,omitempty"`
}

// PolicyOutcome is one policy's verdict on one bundle.
type PolicyOutcome struct {
	Policy string `json:"policy"`
	Err    error  `json:"-"`
}

// Satisfied reports whether the bundle satisfied at least one policy.
func (b *BundleResult) Satisfied() bool {
	for _, p := range b.Policies {
		if p.Err == nil {
			return true
		}
	}
	return false
}

// Verify checks each candidate bundle for the image digest ("sha256:<hex>")
// against every policy and returns one result per candidate, in order. A
// bundle satisfies a policy when sigstore-go verifies it against one of the
// policy's trusted roots (certificate chain at a verified time, log entries
// and timestamps to the thresholds, signature over a statement whose
// subject is digest, or over digest itself), its certificate names the
// policy's identity, and its predicate and builder are the policy's.
func Verify(policies []*Policy, digest string, candidates []Candidate) []BundleResult {
	out := make([]BundleResult, 0, len(candidates))
	for _, c := range candidates {
		out = append(out, verifyOne(policies, digest, c))
	}
	return out
}

func verifyOne(policies []*Policy, digest string, c Candidate) BundleResult {
	r := BundleResult{Origin: c.Origin}
	if c.Err != nil {
		r.Err = c.Err
		return r
	}
	if !IsDigest(digest) {
		r.Err = fmt.Errorf("image digest %q is not sha256:<hex>", digest)
		return r
	}
	sum, _ := hex.DecodeString(strings.TrimPrefix(digest, "sha256:"))
	if len(c.Raw) > MaxBundleSize {
		r.Err = fmt.Errorf("bundle of %d bytes: more than %d", len(c.Raw), MaxBundleSize)
		return r
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(c.Raw); err != nil {
		r.Err = fmt.Errorf("not a sigstore bundle: %w", err)
		return r
	}
	// One cryptographic verification per trusted root (and thresholds);
	// policies then differ only in identity, predicate and builder.
	type rootOutcome struct {
		res *verify.VerificationResult
		err error
	}
	byRoot := map[string]rootOutcome{}
	var (
		verified *verify.VerificationResult
		rootErrs []string
	)
	for _, p := range policies {
		var (
			res  *verify.VerificationResult
			errs []string
		)
		for _, tr := range p.roots {
			o, ok := byRoot[tr.key]
			if !ok {
				o.res, o.err = tr.verifier.Verify(&b, verify.NewPolicy(
					verify.WithArtifactDigest("sha256", sum),
					// The identity is checked below, per policy, with
					// sigstore-go's own CertificateIdentity.Verify, so that
					// one verification serves every policy on this root
					// and each refusal says which field differed.
					verify.WithoutIdentitiesUnsafe(),
				))
				byRoot[tr.key] = o
				if o.err != nil {
					rootErrs = append(rootErrs, fmt.Sprintf("trusted root %s: %v", tr.path, o.err))
				}
			}
			if o.err == nil {
				res = o.res
				break
			}
			errs = append(errs, fmt.Sprintf("trusted root %s: %v", tr.path, o.err))
		}
		if res == nil {
			r.Policies = append(r.Policies, PolicyOutcome{Policy: p.Name, Err: fmt.Errorf("not verified: %s", strings.Join(errs, "; "))})
			continue
		}
		if verified == nil {
			verified = res
			r.Signer, r.PredicateType, r.BuilderID, r.BuildType = facts(res)
		}
		r.Policies = append(r.Policies, PolicyOutcome{Policy: p.Name, Err: p.check(res)})
	}
	if verified == nil {
		slices.Sort(rootErrs)
		r.Err = fmt.Errorf("not verified: %s", strings.Join(slices.Compact(rootErrs), "; "))
		if len(rootErrs) == 0 {
			r.Err = errors.New("no policy to verify it with")
		}
		// Facts of an unverified bundle are not reported.
		r.Signer, r.PredicateType, r.BuilderID, r.BuildType = nil, "", "", ""
	}
	return r
}

// check applies the policy's identity, predicate and builder to a
// verification result from one of its trusted roots.
func (p *Policy) check(res *verify.VerificationResult) error {
	if res.Signature == nil || res.Signature.Certificate == nil {
		return errors.New("signed with a key, not a certificate: policies name certificate identities")
	}
	if err := p.identity.Verify(*res.Signature.Certificate); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	if len(p.predicateTypes) == 0 && len(p.builderIDs) == 0 {
		return nil
	}
	_, pt, builder, _ := facts(res)
	if len(p.predicateTypes) > 0 && !slices.Contains(p.predicateTypes, pt) {
		if pt == "" {
			return fmt.Errorf("no in-toto statement: predicate types %q required", p.predicateTypes)
		}
		return fmt.Errorf("predicate type %q: want one of %q", pt, p.predicateTypes)
	}
	if len(p.builderIDs) > 0 && !slices.Contains(p.builderIDs, builder) {
		if builder == "" {
			return fmt.Errorf("no SLSA provenance builder ID (predicate type %q): builder IDs %q required", pt, p.builderIDs)
		}
		return fmt.Errorf("builder ID %q: want one of %q", builder, p.builderIDs)
	}
	return nil
}

// facts returns what a verification result says about the signer, the
// predicate and, for SLSA provenance, the builder.
func facts(res *verify.VerificationResult) (s *Signer, predicateType, builderID, buildType string) {
	if res.Signature != nil && res.Signature.Certificate != nil {
		c := res.Signature.Certificate
		s = &Signer{
			Issuer:           c.Extensions.Issuer,
			SAN:              c.SubjectAlternativeName,
			SourceRepository: c.Extensions.SourceRepositoryURI,
			SourceRef:        c.Extensions.SourceRepositoryRef,
			SourceDigest:     c.Extensions.SourceRepositoryDigest,
			BuildSignerURI:   c.Extensions.BuildSignerURI,
		}
	}
	if res.Statement == nil {
		return s, "", "", ""
	}
	predicateType = res.Statement.GetPredicateType()
	builderID, buildType = builderOf(predicateType, res.Statement.GetPredicate())
	return s, predicateType, builderID, buildType
}

// builderOf reads the builder ID and build type of an SLSA provenance
// predicate (v1 or v0.2) with in-toto's own types; "" for other
// predicates or one that does not parse.
func builderOf(predicateType string, pred *structpb.Struct) (id, buildType string) {
	if pred == nil {
		return "", ""
	}
	raw, err := protojson.Marshal(pred)
	if err != nil {
		return "", ""
	}
	opts := protojson.UnmarshalOptions{DiscardUnknown: true}
	switch predicateType {
	case PredicateSLSAProvenanceV1:
		var p prov1.Provenance
		if err := opts.Unmarshal(raw, &p); err != nil {
			return "", ""
		}
		return p.GetRunDetails().GetBuilder().GetId(), p.GetBuildDefinition().GetBuildType()
	case PredicateSLSAProvenanceV02:
		var p prov02.Provenance
		if err := opts.Unmarshal(raw, &p); err != nil {
			return "", ""
		}
		return p.GetBuilder().GetId(), p.GetBuildType()
	}
	return "", ""
}
