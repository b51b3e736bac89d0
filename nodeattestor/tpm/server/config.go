package server

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server/ekca"
	"github.com/hwattest/hwattest/pkg/policy"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// maxListFileSize bounds a CA bundle or EK hash list file.
const maxListFileSize = 16 << 20

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
	// DenyEKHashes are EK hashes refused whatever else holds (revocation).
	DenyEKHashes []string `hcl:"deny_ek_hashes"`
	// PCRs is the selection every quote must cover, bank to indices;
	// default sha256 0-7.
	PCRs map[string][]int `hcl:"pcrs"`
	// ExposePCRs are the quoted PCRs whose values become selectors.
	ExposePCRs map[string][]int `hcl:"expose_pcrs"`
	// ExposeBootComponents are boot event types whose verified components
	// become selectors, e.g. ["EV_EFI_BOOT_SERVICES_APPLICATION"].
	ExposeBootComponents []string `hcl:"expose_boot_components"`
	// Policies are named rule sets evaluated on every attestation.
	Policies map[string]PolicyConfig `hcl:"policy"`
}

// PolicyConfig is one `policy "<name>" { ... }` block.
type PolicyConfig struct {
	// Required refuses a node that fails the policy (PermissionDenied);
	// otherwise it only lacks the policy:<name> selector.
	Required bool `hcl:"required"`
	// SecureBoot requires the verified boot log to show secure boot on.
	SecureBoot bool `hcl:"secure_boot"`
	// EKCertificate requires an EK certificate from a trusted CA.
	EKCertificate bool `hcl:"ek_certificate"`
	// PCRs are reference values "<bank>:<index>:<hex>"; several values for
	// one PCR allow any of them. Each PCR must be quoted (pcrs).
	PCRs []string `hcl:"pcrs"`
	// BootComponents are the allowed hex digests of boot applications and
	// drivers (empty: not checked).
	BootComponents []string `hcl:"boot_components"`
	// IMAAllowlist are the allowed hex file hashes in the IMA log (empty:
	// not checked).
	IMAAllowlist []string `hcl:"ima_allowlist"`
	// IMAAllowlistPaths are files or directories in sha256sum's output
	// format whose digests join IMAAllowlist (read at configure time).
	IMAAllowlistPaths []string `hcl:"ima_allowlist_paths"`
}

// config is the validated, compiled configuration.
type config struct {
	trustDomain spiffeid.TrustDomain
	verifier    *tpmquote.Verifier
	deny        map[string]bool
	expose      tpmquote.PCRSelection
	exposeBoot  []string
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
	policy := tpmquote.EKPolicy{}
	var allow *hashList
	switch c.Require {
	case "", "certificate":
		policy.Require = tpmquote.RequireCertificate
	case "hash":
		policy.Require = tpmquote.RequireHash
	case "either":
		policy.Require = tpmquote.RequireEither
	case "both":
		policy.Require = tpmquote.RequireBoth
	default:
		errs = append(errs, fmt.Errorf("require %q: want certificate, hash, either or both", c.Require))
	}
	hasCAs := len(c.EKCAPaths) > 0 || c.BundledEKCAs
	if hasCAs {
		policy.Roots, policy.Intermediates = x509.NewCertPool(), x509.NewCertPool()
	}
	if len(c.EKCAPaths) > 0 {
		if err := loadCAs(c.EKCAPaths, policy.Roots, policy.Intermediates); err != nil {
			errs = append(errs, err)
		}
	}
	if c.BundledEKCAs {
		if _, err := ekca.AddBundled(policy.Roots, policy.Intermediates); err != nil {
			errs = append(errs, fmt.Errorf("bundled_ek_cas: %w", err))
		}
	}
	if len(c.EKHashPaths) > 0 {
		list, err := newHashList(c.EKHashPaths)
		if err != nil {
			errs = append(errs, err)
		} else {
			allow = list
			policy.Listed = list.contains
		}
	}
	needCA := policy.Require == tpmquote.RequireCertificate || policy.Require == tpmquote.RequireBoth
	needHash := policy.Require == tpmquote.RequireHash || policy.Require == tpmquote.RequireBoth
	if needCA && !hasCAs {
		errs = append(errs, fmt.Errorf("require %q needs ek_ca_paths or bundled_ek_cas", policy.Require))
	}
	if needHash && len(c.EKHashPaths) == 0 {
		errs = append(errs, fmt.Errorf("require %q needs ek_hash_paths", policy.Require))
	}
	if policy.Require == tpmquote.RequireEither && !hasCAs && len(c.EKHashPaths) == 0 {
		errs = append(errs, errors.New(`require "either" needs ek_ca_paths, bundled_ek_cas or ek_hash_paths`))
	}
	deny := map[string]bool{}
	for _, h := range c.DenyEKHashes {
		if !isHash(h) {
			errs = append(errs, fmt.Errorf("deny_ek_hashes: %q is not a hex SHA-256", h))
		}
		deny[strings.ToLower(h)] = true
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
	for _, typ := range c.ExposeBootComponents {
		if !slices.Contains(tpmquote.ComponentTypes(), typ) {
			errs = append(errs, fmt.Errorf("expose_boot_components: %q is not one of %v", typ, tpmquote.ComponentTypes()))
		}
	}
	policies, perrs := buildPolicies(c.Policies, pcrs)
	errs = append(errs, perrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	v, err := tpmquote.NewVerifier(tpmquote.Options{EK: policy, PCRs: pcrs})
	if err != nil {
		return nil, err
	}
	return &config{trustDomain: td, verifier: v, deny: deny, expose: expose, allow: allow, policies: policies, exposeBoot: c.ExposeBootComponents}, nil
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
	n := 0
	err := eachFile(paths, func(path string, b []byte) error {
		added, err := ekca.AddPEM(path, b, roots, inter)
		n += added
		if err != nil {
			return fmt.Errorf("ek_ca_paths: %w", err)
		}
		return nil
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("ek_ca_paths: no certificate found in %v", paths)
	}
	return err
}

// loadHashes reads EK hash lists from files and directories.
func loadHashes(paths []string) (map[string]bool, error) {
	hashes := map[string]bool{}
	err := eachFile(paths, func(path string, b []byte) error {
		if name := filepath.Base(path); isHash(name) {
			hashes[strings.ToLower(name)] = true
		}
		return eachLine(path, b, func(line int, s string) error {
			if i := strings.IndexByte(s, '#'); i >= 0 {
				s = strings.TrimSpace(s[:i])
			}
			if s == "" {
				return nil
			}
			if !isHash(s) {
				return fmt.Errorf("ek_hash_paths: %s line %d: not a hex SHA-256", path, line)
			}
			hashes[strings.ToLower(s)] = true
			return nil
		})
	})
	return hashes, err
}

// loadIMAAllowlist reads files in sha256sum's output format ("<hex>  <path>",
// or a digest alone; lines starting with # are comments), so that an
// operator can make one with `find /usr/bin -type f -exec sha256sum {} +`.
// The path is informational: IMA allowlists match digests.
func loadIMAAllowlist(paths []string, into map[string]bool) error {
	return eachFile(paths, func(path string, b []byte) error {
		return eachLine(path, b, func(line int, s string) error {
			if s == "" || s[0] == '#' {
				return nil
			}
			digest, _, _ := strings.Cut(s, " ")
			if !isDigest(digest) {
				return fmt.Errorf("%s line %d: %q is not a hex digest", path, line, digest)
			}
			into[strings.ToLower(digest)] = true
			return nil
		})
	})
}

// eachLine calls fn with every line of b, trimmed, numbered from 1.
func eachLine(path string, b []byte, fn func(line int, s string) error) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<10)
	for line := 1; sc.Scan(); line++ {
		if err := fn(line, strings.TrimSpace(sc.Text())); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// listFiles returns the regular files named by paths, directories read one
// level deep.
func listFiles(paths []string) ([]string, error) {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	return files, nil
}

// eachFile calls fn with the contents of every file listFiles finds.
func eachFile(paths []string, fn func(path string, b []byte) error) error {
	files, err := listFiles(paths)
	if err != nil {
		return err
	}
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return err
		}
		if fi.Size() > maxListFileSize {
			return fmt.Errorf("%s is larger than %d bytes", f, maxListFileSize)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if err := fn(f, b); err != nil {
			return err
		}
	}
	return nil
}

func isHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// buildPolicies compiles the policy blocks, reporting every problem.
func buildPolicies(blocks map[string]PolicyConfig, quoted tpmquote.PCRSelection) ([]*policy.Policy, []error) {
	names := make([]string, 0, len(blocks))
	for n := range blocks {
		names = append(names, n)
	}
	sort.Strings(names)
	var (
		out  []*policy.Policy
		errs []error
	)
	for _, name := range names {
		b := blocks[name]
		p := &policy.Policy{Name: name, Required: b.Required, SecureBoot: b.SecureBoot, EKCertificate: b.EKCertificate}
		if name == "" || strings.ContainsAny(name, " :") {
			errs = append(errs, fmt.Errorf("policy %q: a name without spaces or colons is required", name))
		}
		for _, ref := range b.PCRs {
			parts := strings.Split(ref, ":")
			var (
				alg tpmquote.HashAlg
				idx int
				val []byte
				err error
			)
			if len(parts) != 3 {
				err = errors.New("want <bank>:<index>:<hex>")
			} else if alg, err = tpmquote.ParseHashAlg(parts[0]); err == nil {
				if idx, err = strconv.Atoi(parts[1]); err == nil {
					val, err = hex.DecodeString(parts[2])
				}
			}
			switch {
			case err != nil:
				errs = append(errs, fmt.Errorf("policy %q: pcrs %q: %v", name, ref, err))
				continue
			case len(val) != alg.Size():
				errs = append(errs, fmt.Errorf("policy %q: pcrs %q: %d bytes, want %d", name, ref, len(val), alg.Size()))
				continue
			case !slices.Contains(quoted[alg], idx):
				errs = append(errs, fmt.Errorf("policy %q: pcrs %q: %s PCR %d is not quoted (add it to pcrs)", name, ref, alg, idx))
				continue
			}
			if p.PCRs == nil {
				p.PCRs = map[tpmquote.HashAlg]map[int][][]byte{}
			}
			if p.PCRs[alg] == nil {
				p.PCRs[alg] = map[int][][]byte{}
			}
			p.PCRs[alg][idx] = append(p.PCRs[alg][idx], val)
		}
		var err error
		if p.BootComponents, err = hexSet(b.BootComponents); err != nil {
			errs = append(errs, fmt.Errorf("policy %q: boot_components: %w", name, err))
		}
		if p.IMAAllowlist, err = hexSet(b.IMAAllowlist); err != nil {
			errs = append(errs, fmt.Errorf("policy %q: ima_allowlist: %w", name, err))
		}
		if len(b.IMAAllowlistPaths) > 0 {
			if p.IMAAllowlist == nil {
				p.IMAAllowlist = map[string]bool{}
			}
			if err := loadIMAAllowlist(b.IMAAllowlistPaths, p.IMAAllowlist); err != nil {
				errs = append(errs, fmt.Errorf("policy %q: ima_allowlist_paths: %w", name, err))
			}
		}
		out = append(out, p)
	}
	return out, errs
}

// hexSet returns the set of lowercase hex digests, nil for an empty list.
func hexSet(list []string) (map[string]bool, error) {
	if len(list) == 0 {
		return nil, nil
	}
	set := map[string]bool{}
	for _, h := range list {
		if !isDigest(h) {
			return nil, fmt.Errorf("%q is not a hex digest", h)
		}
		set[strings.ToLower(h)] = true
	}
	return set, nil
}

// isDigest reports whether s is a hex digest of SHA-1 size or more.
func isDigest(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) >= 40
}
