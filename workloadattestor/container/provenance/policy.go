package provenance

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/sigstore/sigstore-go/pkg/fulcio/certificate"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"

	"github.com/hwattest/hwattest/internal/readfile"
)

// MaxTrustedRootSize bounds a trusted_root.json file (the public-good
// instance's is about 10 KiB).
const MaxTrustedRootSize = 1 << 20

// Predicate types with a builder this package reads.
const (
	// PredicateSLSAProvenanceV1 is SLSA provenance v1
	// (runDetails.builder.id, buildDefinition.buildType).
	PredicateSLSAProvenanceV1 = "https://slsa.dev/provenance/v1"
	// PredicateSLSAProvenanceV02 is SLSA provenance v0.2 (builder.id,
	// buildType).
	PredicateSLSAProvenanceV02 = "https://slsa.dev/provenance/v0.2"
)

// PolicyConfig is one `provenance "<name>" { ... }` block: which bundles
// prove what about an image. A bundle satisfies the policy when it
// verifies against one of the trusted roots with the thresholds, for the
// image's digest, signed by the identity below, and (when they are set)
// carries one of the predicate types and one of the builder IDs.
type PolicyConfig struct {
	// TrustedRootPaths are trusted_root.json files (Sigstore's
	// TrustedRoot, as `sigstore-go`, `cosign trusted-root create` or a
	// TUF client write them): the Fulcio CAs, Rekor logs, timestamp
	// authorities and CT logs a bundle may chain to. Read at
	// configuration; no TUF fetch at run time.
	TrustedRootPaths []string `hcl:"trusted_root_paths"`
	// Issuer is the OIDC issuer the signing certificate must name (exact),
	// e.g. https://token.actions.githubusercontent.com.
	Issuer string `hcl:"issuer"`
	// SAN is the certificate's subject alternative name (exact), e.g. a
	// workflow URI or an email address. One of SAN and SANRegex is needed.
	SAN string `hcl:"san"`
	// SANRegex is a regular expression the SAN must match (RE2, anchored
	// by this package: ^(?:...)$).
	SANRegex string `hcl:"san_regex"`
	// SourceRepository is the Fulcio source repository URI extension
	// (1.3.6.1.4.1.57264.1.12), exact, e.g. https://github.com/org/repo.
	SourceRepository string `hcl:"source_repository"`
	// SourceRef is the Fulcio source repository ref extension
	// (1.3.6.1.4.1.57264.1.14), exact, e.g. refs/heads/main.
	SourceRef string `hcl:"source_ref"`
	// PredicateTypes, when set, are the in-toto predicate types accepted
	// (any one of them).
	PredicateTypes []string `hcl:"predicate_types"`
	// BuilderIDs, when set, are the SLSA builder IDs accepted (any one):
	// the bundle must be SLSA provenance (v1 or v0.2) naming one of them.
	BuilderIDs []string `hcl:"builder_ids"`
	// TlogThreshold is the number of verified transparency log entries a
	// bundle needs (default 1; 0 accepts bundles without log entries,
	// then TimestampThreshold must be positive).
	TlogThreshold *int `hcl:"tlog_threshold"`
	// TimestampThreshold is the number of verified RFC 3161 timestamps a
	// bundle needs (default 0).
	TimestampThreshold int `hcl:"timestamp_threshold"`
	// CTLogThreshold is the number of verified signed certificate
	// timestamps the signing certificate needs (default 1, as Fulcio
	// embeds them; 0 for a private Fulcio without a CT log).
	CTLogThreshold *int `hcl:"ct_log_threshold"`
}

// Policy is a compiled provenance policy.
type Policy struct {
	Name     string
	roots    []*trustedRoot
	identity verify.CertificateIdentity
	// predicateTypes and builderIDs are empty when not required.
	predicateTypes []string
	builderIDs     []string
}

// trustedRoot is a trusted_root.json with the verifier its policy's
// thresholds make.
type trustedRoot struct {
	path     string
	key      string // path and thresholds: bundles are verified once per key
	verifier *verify.Verifier
}

// policyName is what a policy's name may be: it becomes the
// provenance:<name> selector's value.
var policyName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CompilePolicies validates and compiles policies by name, reading their
// trusted roots, and reports every problem at once. The result is sorted
// by name.
func CompilePolicies(configs map[string]PolicyConfig) ([]*Policy, error) {
	names := make([]string, 0, len(configs))
	for n := range configs {
		names = append(names, n)
	}
	slices.Sort(names)
	var (
		errs []error
		out  []*Policy
	)
	for _, n := range names {
		p, perrs := compilePolicy(n, configs[n])
		for _, err := range perrs {
			errs = append(errs, fmt.Errorf("provenance %q: %w", n, err))
		}
		if len(perrs) == 0 {
			out = append(out, p)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func compilePolicy(name string, c PolicyConfig) (*Policy, []error) {
	var errs []error
	if !policyName.MatchString(name) {
		errs = append(errs, errors.New("name must be 1-63 lowercase letters, digits, '.', '_' or '-'"))
	}
	p := &Policy{Name: name}
	if c.Issuer == "" {
		errs = append(errs, errors.New("issuer is needed (the OIDC issuer of the signing certificate)"))
	}
	var sanRegex string
	switch {
	case c.SAN == "" && c.SANRegex == "":
		errs = append(errs, errors.New("san or san_regex is needed (the signer's identity)"))
	case c.SAN != "" && c.SANRegex != "":
		errs = append(errs, errors.New("san and san_regex: set one"))
	case c.SANRegex != "":
		sanRegex = "^(?:" + c.SANRegex + ")$"
	}
	san, err := verify.NewSANMatcher(c.SAN, sanRegex)
	if err != nil {
		errs = append(errs, fmt.Errorf("san_regex: %w", err))
	}
	issuer, err := verify.NewIssuerMatcher(c.Issuer, "")
	if err != nil {
		errs = append(errs, fmt.Errorf("issuer: %w", err))
	}
	if len(errs) == 0 {
		p.identity, err = verify.NewCertificateIdentity(san, issuer, certificate.Extensions{
			SourceRepositoryURI: c.SourceRepository,
			SourceRepositoryRef: c.SourceRef,
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	for _, t := range c.PredicateTypes {
		if strings.TrimSpace(t) == "" {
			errs = append(errs, errors.New("predicate_types: empty type"))
		}
	}
	p.predicateTypes = slices.Clone(c.PredicateTypes)
	for _, id := range c.BuilderIDs {
		if strings.TrimSpace(id) == "" {
			errs = append(errs, errors.New("builder_ids: empty ID"))
		}
	}
	p.builderIDs = slices.Clone(c.BuilderIDs)

	tlog, ct := 1, 1
	if c.TlogThreshold != nil {
		tlog = *c.TlogThreshold
	}
	if c.CTLogThreshold != nil {
		ct = *c.CTLogThreshold
	}
	var opts []verify.VerifierOption
	switch {
	case tlog < 0 || c.TimestampThreshold < 0 || ct < 0:
		errs = append(errs, errors.New("tlog_threshold, timestamp_threshold and ct_log_threshold must not be negative"))
	case tlog == 0 && c.TimestampThreshold == 0:
		errs = append(errs, errors.New("tlog_threshold and timestamp_threshold are both 0: a bundle needs a verified time (a log entry or a timestamp) to check its short-lived certificate"))
	}
	if tlog > 0 {
		// A Rekor entry's integrated time is the observer time the
		// certificate is checked at.
		opts = append(opts, verify.WithTransparencyLog(tlog), verify.WithIntegratedTimestamps(tlog))
	}
	if c.TimestampThreshold > 0 {
		opts = append(opts, verify.WithSignedTimestamps(c.TimestampThreshold))
	}
	if ct > 0 {
		opts = append(opts, verify.WithSignedCertificateTimestamps(ct))
	}
	if len(c.TrustedRootPaths) == 0 {
		errs = append(errs, errors.New("trusted_root_paths is needed (trusted_root.json files)"))
	}
	// Trusted roots are read even when the rest has problems, so that
	// every problem is reported at once.
	checked := len(errs) == 0
	for _, path := range c.TrustedRootPaths {
		b, err := readfile.Limited(path, MaxTrustedRootSize)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted root: %w", err))
			continue
		}
		tr, err := root.NewTrustedRootFromJSON(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted root %s: %w", path, err))
			continue
		}
		if !checked {
			continue
		}
		v, err := verify.NewVerifier(tr, opts...)
		if err != nil {
			errs = append(errs, fmt.Errorf("trusted root %s: %w", path, err))
			continue
		}
		p.roots = append(p.roots, &trustedRoot{
			path:     path,
			key:      fmt.Sprintf("%s tlog=%d tsa=%d ct=%d", path, tlog, c.TimestampThreshold, ct),
			verifier: v,
		})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return p, nil
}
