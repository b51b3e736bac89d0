package server

import (
	"crypto/x509"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server/ekca"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// Config is the server plugin's HCL configuration.
type Config struct {
	// EKCAPaths are PEM files or directories of them: self-signed
	// certificates become trusted roots, the others intermediates.
	EKCAPaths []string `hcl:"ek_ca_paths"`
	// BundledEKCAs adds the TPM vendor EK CAs built into the plugin.
	BundledEKCAs bool `hcl:"bundled_ek_cas"`
	// EKHashPaths are files or directories listing allowed EK hashes, one
	// hex SHA-256 per line ('#' starts a comment); in a directory, every
	// file's lines and every file named by a hash count.
	EKHashPaths []string `hcl:"ek_hash_paths"`
	// Require is "certificate" (default), "hash", "either" or "both".
	Require string `hcl:"require"`
	// EKAlgorithms are the EK key types accepted: "rsa-2048", "rsa-3072",
	// "rsa-4096", "ecc-p256", "ecc-p384", "ecc-p521", or "rsa" or "ecc" for
	// every size; default ["rsa-2048"]. A TPM may hold a certified EK of
	// several types, and each EK is its own agent ID: accepting more types
	// gives a machine more identities, and denying the machine takes
	// denying each.
	EKAlgorithms []string `hcl:"ek_algorithms"`
	// DenyEKHashes are EK hashes refused whatever else holds (revocation).
	DenyEKHashes []string `hcl:"deny_ek_hashes"`
	// DenyEKCertificates are EK certificates refused whatever else holds,
	// each "<issuer DN>/<serial in hex>" as `hwattest ek` prints it.
	DenyEKCertificates []string `hcl:"deny_ek_certificates"`
	// PCRs is the selection every quote must cover, bank to indices;
	// default sha256 0-7.
	PCRs map[string][]int `hcl:"pcrs"`
	// ExposePCRs are the quoted PCRs whose values become selectors.
	ExposePCRs map[string][]int `hcl:"expose_pcrs"`
	// ExposeBootComponents are PCRs (0-7) whose boot components measured
	// before the PCR's separator become selectors, e.g. [0, 2].
	ExposeBootComponents []int `hcl:"expose_boot_components"`
	// AllowSHA1Boot reads the secure boot state and boot components from a
	// boot log that replayed only in the SHA-1 bank (off: such a log
	// establishes neither).
	AllowSHA1Boot bool `hcl:"allow_sha1_boot"`
	// Policies are named rule sets evaluated on every attestation.
	Policies map[string]PolicyConfig `hcl:"policy"`
	// PolicyPaths are policy files, or directories of *.hcl policy files,
	// holding further policy blocks (read at configure time). A name defined
	// twice, inline or in files, is an error.
	PolicyPaths []string `hcl:"policy_paths"`
}

// PolicyConfig is one `policy "<name>" { ... }` block, inline or in a file
// named by policy_paths.
type PolicyConfig = policy.Config

// config is the validated, compiled configuration.
type config struct {
	trustDomain spiffeid.TrustDomain
	verifier    *tpmquote.Verifier
	algorithms  []string        // accepted EK types (tpm.EKAlgorithms names)
	deny        map[string]bool // EK hashes
	denyCerts   map[string]bool // tpm.EKCertificateID of EK certificates
	expose      tpmquote.PCRSelection
	exposeBoot  []int
	allow       *hashList // nil without ek_hash_paths
	policies    []*policy.Policy
}

// buildConfig parses and validates HCL, reporting every problem at once.
func buildConfig(hclText, trustDomain string) (*config, error) {
	var c Config
	errs := hclconf.Decode(hclText, &c)
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		errs = append(errs, fmt.Errorf("trust domain %q: %w", trustDomain, err))
	}
	ekPolicy := tpmquote.EKPolicy{}
	var allow *hashList
	if c.Require == "" {
		ekPolicy.Require = tpmquote.RequireCertificate
	} else if r, err := tpmquote.ParseEKRequirement(c.Require); err == nil {
		ekPolicy.Require = r
	} else {
		errs = append(errs, fmt.Errorf("require %q: want certificate, hash, either or both", c.Require))
	}
	hasCAs := len(c.EKCAPaths) > 0 || c.BundledEKCAs
	if hasCAs {
		ekPolicy.Roots, ekPolicy.Intermediates = x509.NewCertPool(), x509.NewCertPool()
	}
	if len(c.EKCAPaths) > 0 {
		if err := loadCAs(c.EKCAPaths, ekPolicy.Roots, ekPolicy.Intermediates); err != nil {
			errs = append(errs, err)
		}
	}
	if c.BundledEKCAs {
		if _, err := ekca.AddBundled(ekPolicy.Roots, ekPolicy.Intermediates); err != nil {
			errs = append(errs, fmt.Errorf("bundled_ek_cas: %w", err))
		}
	}
	if len(c.EKHashPaths) > 0 {
		list, err := newHashList(c.EKHashPaths)
		if err != nil {
			errs = append(errs, err)
		} else {
			allow = list
			ekPolicy.Listed = list.contains
		}
	}
	needCA := ekPolicy.Require == tpmquote.RequireCertificate || ekPolicy.Require == tpmquote.RequireBoth
	needHash := ekPolicy.Require == tpmquote.RequireHash || ekPolicy.Require == tpmquote.RequireBoth
	if needCA && !hasCAs {
		errs = append(errs, fmt.Errorf("require %q needs ek_ca_paths or bundled_ek_cas", ekPolicy.Require))
	}
	if needHash && len(c.EKHashPaths) == 0 {
		errs = append(errs, fmt.Errorf("require %q needs ek_hash_paths", ekPolicy.Require))
	}
	if ekPolicy.Require == tpmquote.RequireEither && !hasCAs && len(c.EKHashPaths) == 0 {
		errs = append(errs, errors.New(`require "either" needs ek_ca_paths, bundled_ek_cas or ek_hash_paths`))
	}
	deny := map[string]bool{}
	for _, h := range c.DenyEKHashes {
		if !tpm.IsEKHash(h) {
			errs = append(errs, fmt.Errorf("deny_ek_hashes: %q is not a hex SHA-256", h))
		}
		deny[strings.ToLower(h)] = true
	}
	denyCerts := map[string]bool{}
	for _, entry := range c.DenyEKCertificates {
		id, err := tpm.ParseEKCertificateID(entry)
		if err != nil {
			errs = append(errs, fmt.Errorf("deny_ek_certificates: %q: %w", entry, err))
		}
		denyCerts[id] = true
	}
	algorithms := tpm.DefaultEKAlgorithms
	if len(c.EKAlgorithms) > 0 {
		if algorithms, err = tpm.ParseEKAlgorithms(c.EKAlgorithms); err != nil {
			errs = append(errs, prefixed("ek_algorithms", err)...)
		}
	}
	pcrs, err := selection("pcrs", c.PCRs)
	if err != nil {
		errs = append(errs, err)
	}
	expose, err := selection("expose_pcrs", c.ExposePCRs)
	if err != nil {
		errs = append(errs, err)
	}
	if len(pcrs) == 0 {
		pcrs = tpmquote.DefaultPCRs()
	}
	for alg, idx := range expose {
		for _, i := range idx {
			if !slices.Contains(pcrs[alg], i) {
				errs = append(errs, fmt.Errorf("expose_pcrs: %s PCR %d is not quoted (add it to pcrs)", alg, i))
			}
		}
	}
	for _, idx := range c.ExposeBootComponents {
		if idx < 0 || idx > 7 {
			errs = append(errs, fmt.Errorf("expose_boot_components: PCR %d is not one of 0-7 (only they have a separator)", idx))
		}
	}
	policies, perrs := buildPolicies(c.Policies, c.PolicyPaths, pcrs)
	errs = append(errs, perrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: ekPolicy, PCRs: pcrs, AllowSHA1Boot: c.AllowSHA1Boot})
	if err != nil {
		return nil, err
	}
	return &config{trustDomain: td, verifier: v, algorithms: algorithms, deny: deny, denyCerts: denyCerts, expose: expose, allow: allow, policies: policies, exposeBoot: c.ExposeBootComponents}, nil
}

func selection(key string, m map[string][]int) (tpmquote.PCRSelection, error) {
	if len(m) == 0 {
		return nil, nil
	}
	sel := tpmquote.PCRSelection{}
	var errs []error
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		alg, err := tpmquote.ParseHashAlg(name)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: unknown bank %q", key, name))
			continue
		}
		sel[alg] = m[name]
	}
	if len(errs) == 0 {
		if err := sel.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", key, err))
		}
	}
	return sel, errors.Join(errs...)
}

// loadCAs reads PEM certificates from files and directories.
func loadCAs(paths []string, roots, inter *x509.CertPool) error {
	n, err := ekca.Load(paths, tpm.MaxListFileSize, roots, inter)
	if err != nil {
		return fmt.Errorf("ek_ca_paths: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("ek_ca_paths: no certificate found in %v", paths)
	}
	return nil
}

// buildPolicies compiles the inline policy blocks and those of the policy
// files, reporting every problem; a name defined twice is one.
func buildPolicies(inline map[string]PolicyConfig, paths []string, quoted tpmquote.PCRSelection) ([]*policy.Policy, []error) {
	type located struct {
		conf PolicyConfig
		path string // "" inline
	}
	all := map[string]located{}
	for name, c := range inline {
		all[name] = located{conf: c}
	}
	var errs []error
	if len(paths) > 0 {
		files, err := policy.LoadFiles(paths)
		if err != nil {
			errs = append(errs, prefixed("policy_paths", err)...)
		}
		for name, src := range files {
			if _, ok := all[name]; ok {
				errs = append(errs, fmt.Errorf("policy %q is defined inline and in %s", name, src.Path))
				continue
			}
			all[name] = located{conf: src.Config, path: src.Path}
		}
	}
	names := make([]string, 0, len(all))
	for n := range all {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []*policy.Policy
	for _, name := range names {
		l := all[name]
		dir := ""
		if l.path != "" {
			dir = filepath.Dir(l.path)
		}
		p, err := l.conf.Compile(name, quoted, dir)
		if err != nil {
			errs = append(errs, prefixed(l.path, err)...)
			continue
		}
		out = append(out, p)
	}
	return out, errs
}

// prefixed returns the errors joined in err, each prefixed by path (a file
// or a configuration key) when it is not empty.
func prefixed(path string, err error) []error {
	errs := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	}
	if path == "" {
		return errs
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = fmt.Errorf("%s: %w", path, e)
	}
	return out
}
