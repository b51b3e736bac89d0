package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/workloadattestor/container/provenance"
)

// maxPolicyFile bounds a provenance policy file.
const maxPolicyFile = 1 << 20

// provenancePolicyFile is a policy file of `hwattest provenance`: the
// container plugin's provenance blocks.
type provenancePolicyFile struct {
	Provenance map[string]provenance.PolicyConfig `hcl:"provenance"`
}

// provenanceBundle is one bundle in provenance's report.
type provenanceBundle struct {
	Origin        string             `json:"origin"`
	Verified      bool               `json:"verified"`
	Error         string             `json:"error,omitempty"`
	Signer        *provenance.Signer `json:"signer,omitempty"`
	PredicateType string             `json:"predicate_type,omitempty"`
	BuilderID     string             `json:"builder_id,omitempty"`
	BuildType     string             `json:"build_type,omitempty"`
	Policies      []policyVerdict    `json:"policies,omitempty"`
}

type policyVerdict struct {
	Policy string `json:"policy"`
	Passed bool   `json:"passed"`
	Reason string `json:"reason,omitempty"`
}

// provenanceReport is provenance's --json output.
type provenanceReport struct {
	Image       string             `json:"image"`
	Repository  string             `json:"repository"`
	Digest      string             `json:"digest"`
	Unavailable string             `json:"unavailable,omitempty"`
	Bundles     []provenanceBundle `json:"bundles"`
	Satisfied   []string           `json:"satisfied"`
	Unsatisfied []string           `json:"unsatisfied"`
	Selectors   []string           `json:"selectors"`
	Passed      bool               `json:"passed"`
}

func provenanceCommand() *command {
	return &command{
		name:    "provenance",
		summary: "find and verify an image's sigstore bundles against provenance policies",
		usage:   "provenance --policy FILE [--bundle-dir DIR] [--offline] [--timeout D] [--json] IMAGE@sha256:DIGEST",
		help: `Does what the container workload attestor does for an image: finds the
sigstore bundles attached to IMAGE@DIGEST (OCI referrers of the digest in
its repository, or the sha256-<hex> referrers tag, and DIR/sha256-<hex>/*.json
of --bundle-dir), verifies each with sigstore-go against the trusted roots
of the policy file's provenance "<name>" { ... } blocks (the plugin's own
syntax), and prints each bundle, why it passed or failed each policy, and
the selectors the plugin would emit (container:<selector>).

Registry credentials come from the docker config.json of the user
(~/.docker/config.json, DOCKER_CONFIG). Exit status 0 when every policy is
satisfied by some bundle, 1 otherwise (also when the registry could not be
asked), 2 on usage or input errors.`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			policyPath := fs.String("policy", "", "policy `FILE` with provenance \"<name>\" { ... } blocks (required)")
			dir := fs.String("bundle-dir", "", "bundle `DIR`: bundles of sha256:<hex> are DIR/sha256-<hex>/*.json")
			offline := fs.Bool("offline", false, "read the bundle directory only, not the registry")
			timeout := fs.Duration("timeout", provenance.DefaultTimeout, "time budget of the registry lookup")
			asJSON := fs.Bool("json", false, "print the report as JSON")
			return func(e *env, args []string) error {
				if len(args) != 1 {
					return usageErrorf("want one IMAGE@sha256:DIGEST, got %d arguments", len(args))
				}
				if *policyPath == "" {
					return usageErrorf("--policy is required")
				}
				if *offline && *dir == "" {
					return usageErrorf("--offline needs --bundle-dir")
				}
				ref, err := name.NewDigest(args[0])
				if err != nil {
					return usageErrorf("image %q: %v (want IMAGE@sha256:DIGEST)", args[0], err)
				}
				if !provenance.IsDigest(ref.DigestStr()) {
					return usageErrorf("image %q: the digest must be sha256:<64 lowercase hex>", args[0])
				}
				policies, err := loadProvenancePolicies(*policyPath)
				if err != nil {
					return err
				}
				var reg provenance.Source
				if !*offline {
					reg = provenance.NewRegistry(nil)
				}
				c := provenance.NewChecker(policies, provenance.Dir(*dir), reg, 1, nil)
				c.Timeout = *timeout
				res, _ := c.Check(context.Background(), ref.Context().Name(), ref.DigestStr())
				rep := provenanceReportOf(args[0], policies, res)
				if *asJSON {
					b, err := json.MarshalIndent(rep, "", "  ")
					if err != nil {
						return err
					}
					fmt.Fprintf(e.stdout, "%s\n", b)
				} else {
					printProvenance(e, rep)
				}
				if !rep.Passed {
					return silentFailure
				}
				return nil
			}
		},
	}
}

// loadProvenancePolicies reads and compiles a policy file.
func loadProvenancePolicies(path string) ([]*provenance.Policy, error) {
	b, err := readfile.Limited(path, maxPolicyFile)
	if err != nil {
		return nil, usageErrorf("policy: %w", err)
	}
	var f provenancePolicyFile
	if errs := hclconf.Decode(string(b), &f); len(errs) > 0 {
		return nil, usageErrorf("policy %s: %w", path, errors.Join(errs...))
	}
	if len(f.Provenance) == 0 {
		return nil, usageErrorf(`policy %s: no provenance "<name>" { ... } block`, path)
	}
	ps, err := provenance.CompilePolicies(f.Provenance)
	if err != nil {
		return nil, usageErrorf("policy %s: %w", path, err)
	}
	return ps, nil
}

func provenanceReportOf(image string, policies []*provenance.Policy, res *provenance.Result) *provenanceReport {
	rep := &provenanceReport{
		Image: image, Repository: res.Repository, Digest: res.Digest,
		Satisfied: append([]string{}, res.Satisfied...), Selectors: append([]string{}, res.Selectors()...),
		Bundles: []provenanceBundle{}, Unsatisfied: []string{},
	}
	if res.Unavailable != nil {
		rep.Unavailable = res.Unavailable.Error()
	}
	for _, b := range res.Bundles {
		pb := provenanceBundle{Origin: b.Origin, Verified: b.Err == nil, Signer: b.Signer,
			PredicateType: b.PredicateType, BuilderID: b.BuilderID, BuildType: b.BuildType}
		if b.Err != nil {
			pb.Error = b.Err.Error()
		} else {
			for _, p := range b.Policies {
				v := policyVerdict{Policy: p.Policy, Passed: p.Err == nil}
				if p.Err != nil {
					v.Reason = p.Err.Error()
				}
				pb.Policies = append(pb.Policies, v)
			}
		}
		rep.Bundles = append(rep.Bundles, pb)
	}
	for _, p := range policies {
		found := false
		for _, s := range rep.Satisfied {
			found = found || s == p.Name
		}
		if !found {
			rep.Unsatisfied = append(rep.Unsatisfied, p.Name)
		}
	}
	rep.Passed = len(rep.Unsatisfied) == 0
	return rep
}

func printProvenance(e *env, rep *provenanceReport) {
	w := e.stdout
	fmt.Fprintf(w, "image %s@%s\n", rep.Repository, rep.Digest)
	if rep.Unavailable != "" {
		fmt.Fprintf(w, "registry: %s\n", rep.Unavailable)
	}
	if len(rep.Bundles) == 0 {
		fmt.Fprintf(w, "no bundle found\n")
	}
	for _, b := range rep.Bundles {
		fmt.Fprintf(w, "bundle %s\n", b.Origin)
		if !b.Verified {
			fmt.Fprintf(w, "  refused: %s\n", b.Error)
			continue
		}
		if s := b.Signer; s != nil {
			fmt.Fprintf(w, "  signer: issuer %s, san %s\n", s.Issuer, s.SAN)
			if s.SourceRepository != "" {
				fmt.Fprintf(w, "  source: %s %s %s\n", s.SourceRepository, s.SourceRef, s.SourceDigest)
			}
		}
		if b.PredicateType != "" {
			fmt.Fprintf(w, "  predicate: %s\n", b.PredicateType)
		}
		if b.BuilderID != "" {
			fmt.Fprintf(w, "  builder: %s (build type %s)\n", b.BuilderID, b.BuildType)
		}
		for _, p := range b.Policies {
			if p.Passed {
				fmt.Fprintf(w, "  policy %s: pass\n", p.Policy)
			} else {
				fmt.Fprintf(w, "  policy %s: fail: %s\n", p.Policy, p.Reason)
			}
		}
	}
	fmt.Fprintf(w, "satisfied: %s\n", listOrNone(rep.Satisfied))
	fmt.Fprintf(w, "not satisfied: %s\n", listOrNone(rep.Unsatisfied))
	if len(rep.Selectors) > 0 {
		fmt.Fprintf(w, "selectors:\n")
		for _, s := range rep.Selectors {
			fmt.Fprintf(w, "  container:%s\n", s)
		}
	}
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
