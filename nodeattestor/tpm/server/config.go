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
	"github.com/hwattest/hwattest/internal/nodeevents"
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
	// EventWebhooks receive a CloudEvent when a node is attested, refused,
	// or loses or gains a policy (internal/nodeevents).
	EventWebhooks map[string]nodeevents.WebhookConfig `hcl:"event_webhook"`
}

// PolicyConfig is one `policy "<name>" { ... }` block, inline or in a file
// named by policy_paths.
type PolicyConfig = policy.Config

// config is the validated, compiled configuration. The EK CAs, the EK hash
// allowlist and the policies come from files that are re-read when they
// change (reloadable): a config holds the reloadables, and each attestation
// takes the versions in force when it starts.
type config struct {
	trustDomain spiffeid.TrustDomain
	cas         *reloadable[caSet]
	algorithms  []string        // accepted EK types (tpm.EKAlgorithms names)
	deny        map[string]bool // EK hashes
	denyCerts   map[string]bool // tpm.EKCertificateID of EK certificates
	expose      tpmquote.PCRSelection
	exposeBoot  []int
	allow       *hashList // nil without ek_hash_paths
	policies    *reloadable[policySet]
	webhooks    []*nodeevents.Webhook
}

// caSet is the verifier built with one version of the EK CA files.
type caSet struct {
	verifier *tpmquote.Verifier
	// files is how many certificates the ek_ca_paths files hold, bundled
	// how many bundled_ek_cas adds.
	files, bundled int
	// subjects are the ek_ca_paths certificates' subjects, for the log.
	subjects []string
}

// policySet is one version of the policies, inline and from policy files.
type policySet struct {
	policies []*policy.Policy
	// dataFiles are the files the policies read besides their own
	// (ima_allowlist_paths, rego_path): they are watched with the policy
	// files.
	dataFiles []string
}

// names are the policies' names, with "(required)" after those that are.
func (s policySet) names() []string {
	out := make([]string, len(s.policies))
	for i, p := range s.policies {
		out[i] = p.Name
		if p.Required {
			out[i] += " (required)"
		}
	}
	return out
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
	pcrs, pcrErr := selection("pcrs", c.PCRs)
	if pcrErr != nil {
		errs = append(errs, pcrErr)
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
	policies := newPolicies(c.Policies, c.PolicyPaths, pcrs, c.AllowSHA1Boot)
	if err := policies.load(); err != nil {
		errs = append(errs, prefixed("", err)...)
	}
	cas := newCAs(c.EKCAPaths, c.BundledEKCAs, tpmquote.Options{EK: ekPolicy, PCRs: pcrs, AllowSHA1Boot: c.AllowSHA1Boot})
	if pcrErr == nil {
		if err := cas.load(); err != nil {
			errs = append(errs, prefixed("", err)...)
		}
	}
	webhooks, hookErrs := nodeevents.Compile(c.EventWebhooks)
	errs = append(errs, hookErrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return &config{trustDomain: td, cas: cas, algorithms: algorithms, deny: deny, denyCerts: denyCerts, expose: expose, allow: allow, policies: policies, exposeBoot: c.ExposeBootComponents, webhooks: webhooks}, nil
}

// newCAs returns the verifier built with the EK CAs of paths (and the
// bundled ones), rebuilt when the files change. opts.EK's pools are
// replaced.
func newCAs(paths []string, bundled bool, opts tpmquote.Options) *reloadable[caSet] {
	return &reloadable[caSet]{
		source: sourceEKCAs,
		list:   listFiles(paths),
		limit:  tpm.MaxListFileSize,
		build: func(files []file) (caSet, error) {
			var set caSet
			if len(paths) > 0 || bundled {
				opts.EK.Roots, opts.EK.Intermediates = x509.NewCertPool(), x509.NewCertPool()
			}
			var errs []error
			for _, f := range files {
				certs, err := ekca.ParsePEM(f.path, f.b)
				if err != nil {
					errs = append(errs, fmt.Errorf("ek_ca_paths: %w", err))
					continue
				}
				for _, cert := range certs {
					if ekca.IsRoot(cert) {
						opts.EK.Roots.AddCert(cert)
					} else {
						opts.EK.Intermediates.AddCert(cert)
					}
					set.subjects = append(set.subjects, cert.Subject.String())
				}
				set.files += len(certs)
			}
			if len(errs) > 0 {
				return caSet{}, errors.Join(errs...)
			}
			if len(paths) > 0 && set.files == 0 {
				return caSet{}, fmt.Errorf("ek_ca_paths: no certificate found in %v", paths)
			}
			if bundled {
				n, err := ekca.AddBundled(opts.EK.Roots, opts.EK.Intermediates)
				if err != nil {
					return caSet{}, fmt.Errorf("bundled_ek_cas: %w", err)
				}
				set.bundled = n
			}
			v, err := tpmquote.NewVerifier(opts)
			if err != nil {
				return caSet{}, err
			}
			set.verifier = v
			return set, nil
		},
	}
}

// newPolicies returns the inline policies and those of the policy files,
// compiled for the quoted selection, rebuilt when a policy file or an IMA
// allowlist file they read changes.
func newPolicies(inline map[string]PolicyConfig, paths []string, quoted tpmquote.PCRSelection, allowSHA1Boot bool) *reloadable[policySet] {
	return &reloadable[policySet]{
		source: sourcePolicies,
		list: func() ([]string, error) {
			if len(paths) == 0 {
				return nil, nil
			}
			return policy.ListFiles(paths)
		},
		extra: func(s policySet) []string { return s.dataFiles },
		limit: policy.MaxFileSize,
		build: func(files []file) (policySet, error) {
			pf := make([]policy.File, len(files))
			for i, f := range files {
				pf[i] = policy.File{Path: f.path, Data: f.b}
			}
			set, errs := buildPolicies(inline, pf, quoted, allowSHA1Boot)
			return set, errors.Join(errs...)
		},
	}
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

// buildPolicies compiles the inline policy blocks and those of the policy
// files (as read), reporting every problem; a name defined twice is one, and
// so is a rule that reads a PCR or log the server never quotes.
func buildPolicies(inline map[string]PolicyConfig, files []policy.File, quoted tpmquote.PCRSelection, allowSHA1Boot bool) (policySet, []error) {
	type located struct {
		conf PolicyConfig
		path string // "" inline
	}
	all := map[string]located{}
	for name, c := range inline {
		all[name] = located{conf: c}
	}
	var errs []error
	if len(files) > 0 {
		srcs, err := policy.ParseFiles(files)
		if err != nil {
			errs = append(errs, prefixed("policy_paths", err)...)
		}
		for name, src := range srcs {
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
	var set policySet
	for _, name := range names {
		l := all[name]
		dir := ""
		if l.path != "" {
			dir = filepath.Dir(l.path)
		}
		set.dataFiles = append(set.dataFiles, l.conf.Files(dir)...)
		p, err := l.conf.Compile(name, quoted, dir)
		if err == nil {
			err = p.CheckQuoted(quoted, allowSHA1Boot)
		}
		if err != nil {
			errs = append(errs, prefixed(l.path, err)...)
			continue
		}
		set.policies = append(set.policies, p)
	}
	return set, errs
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
