package policy

import (
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/internal/readfile"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// MaxFileSize bounds a policy file and an IMA allowlist file.
const MaxFileSize = 16 << 20

// FileExt is the extension of the policy files LoadFiles reads from a
// directory.
const FileExt = ".hcl"

// Config is one `policy "<name>" { ... }` block of HCL configuration, as the
// server plugin reads it inline and from policy files.
type Config struct {
	// Required refuses a node that fails the policy (PermissionDenied);
	// otherwise it only lacks the policy:<name> selector (report-only).
	Required bool `hcl:"required"`
	// SecureBoot requires the verified boot log to show secure boot on.
	SecureBoot bool `hcl:"secure_boot"`
	// EKCertificate requires an EK certificate from a trusted CA.
	EKCertificate bool `hcl:"ek_certificate"`
	// PCRs are reference values "<bank>:<index>:<hex>"; several values for
	// one PCR allow any of them. Each PCR must be quoted.
	PCRs []string `hcl:"pcrs"`
	// BootComponents are the allowed hex digests of boot applications and
	// drivers (empty: not checked).
	BootComponents []string `hcl:"boot_components"`
	// IMAAllowlist are the allowed hex file hashes in the IMA log (empty:
	// not checked).
	IMAAllowlist []string `hcl:"ima_allowlist"`
	// IMAAllowlistPaths are files or directories in sha256sum's output
	// format whose digests join IMAAllowlist (read when compiled).
	IMAAllowlistPaths []string `hcl:"ima_allowlist_paths"`
	// RegoPath is a Rego module (Rego v1) that decides the policy instead
	// of the rules above (which it cannot be combined with); relative to
	// the policy file's directory.
	RegoPath string `hcl:"rego_path"`
	// Query is the Rego policy's allow rule (default DefaultRegoQuery).
	Query string `hcl:"query"`
}

// file is the content of a policy file: policy blocks and nothing else.
type file struct {
	Policies map[string]Config `hcl:"policy"`
}

// Source is a policy block read from a policy file.
type Source struct {
	Config Config
	// Path is the file the block was read from.
	Path string
}

// Parse parses the text of a policy file: `policy "<name>" { ... }` blocks
// only. Unknown keys and a name defined twice are errors; every problem is
// reported.
func Parse(text string) (map[string]Config, error) {
	var f file
	if errs := hclconf.Decode(text, &f); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if f.Policies == nil {
		f.Policies = map[string]Config{}
	}
	return f.Policies, nil
}

// File is the content of one policy file.
type File struct {
	Path string
	Data []byte
}

// ListFiles returns the policy files paths name: a file named explicitly
// (whatever its extension), and the regular *.hcl files of a directory (one
// level deep, in name order).
func ListFiles(paths []string) ([]string, error) {
	var list []string
	for _, p := range paths {
		files, err := readfile.List([]string{p})
		if err != nil {
			return nil, err
		}
		if len(files) == 1 && files[0] == p {
			list = append(list, p) // a file named explicitly, whatever its extension
			continue
		}
		for _, f := range files {
			if strings.HasSuffix(f, FileExt) {
				list = append(list, f)
			}
		}
	}
	return list, nil
}

// LoadFiles reads policy files. Each path is a file, or a directory whose
// regular *.hcl files (one level deep) are read. A name defined in two files
// is an error. Every problem is reported, each prefixed by its file.
func LoadFiles(paths []string) (map[string]Source, error) {
	list, err := ListFiles(paths)
	if err != nil {
		return nil, err
	}
	files := make([]File, 0, len(list))
	var errs []error
	for _, path := range list {
		b, err := readfile.Limited(path, MaxFileSize)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		files = append(files, File{Path: path, Data: b})
	}
	out, err := ParseFiles(files)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// ParseFiles parses the contents of policy files read by the caller (who
// may need the exact bytes parsed, to notice a later change). A name defined
// in two files is an error. Every problem is reported, each prefixed by its
// file.
func ParseFiles(files []File) (map[string]Source, error) {
	out := map[string]Source{}
	var errs []error
	for _, f := range files {
		blocks, err := Parse(string(f.Data))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
			continue
		}
		for _, name := range sortedNames(blocks) {
			if prev, ok := out[name]; ok {
				errs = append(errs, fmt.Errorf("policy %q is defined in %s and in %s", name, prev.Path, f.Path))
				continue
			}
			out[name] = Source{Config: blocks[name], Path: f.Path}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// Files returns every file besides the policy file itself that Compile
// reads for c (its ima_allowlist_paths and its rego_path), resolved against
// dir as Compile resolves them: a server that reloads policies when their
// files change watches these too.
func (c Config) Files(dir string) []string {
	files := c.IMAAllowlistFiles(dir)
	if c.RegoPath != "" {
		files = append(files, regoPath(c.RegoPath, dir))
	}
	return files
}

// IMAAllowlistFiles returns the ima_allowlist_paths of c resolved against
// dir as Compile resolves them.
func (c Config) IMAAllowlistFiles(dir string) []string {
	paths := make([]string, len(c.IMAAllowlistPaths))
	for i, ap := range c.IMAAllowlistPaths {
		paths[i] = ap
		if dir != "" && !filepath.IsAbs(ap) {
			paths[i] = filepath.Join(dir, ap)
		}
	}
	return paths
}

// Compile checks c and returns the policy called name, reporting every
// problem. quoted is the PCR selection the verifier quotes: a reference value
// for a PCR outside it is an error; nil skips that check (offline
// verification, where the evidence says what was quoted, and a reference
// value for an unquoted PCR fails at evaluation). Relative
// ima_allowlist_paths are resolved against dir ("" means the working
// directory).
func (c Config) Compile(name string, quoted tpmquote.PCRSelection, dir string) (*Policy, error) {
	p := &Policy{Name: name, Required: c.Required, SecureBoot: c.SecureBoot, EKCertificate: c.EKCertificate}
	var errs []error
	if name == "" || strings.ContainsAny(name, " :") {
		errs = append(errs, fmt.Errorf("policy %q: a name without spaces or colons is required", name))
	}
	for _, ref := range c.PCRs {
		alg, idx, val, err := ParsePCR(ref)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("policy %q: pcrs %q: %v", name, ref, err))
			continue
		case quoted != nil && !slices.Contains(quoted[alg], idx):
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
	if p.BootComponents, err = hexSet(c.BootComponents); err != nil {
		errs = append(errs, fmt.Errorf("policy %q: boot_components: %w", name, err))
	}
	if p.IMAAllowlist, err = hexSet(c.IMAAllowlist); err != nil {
		errs = append(errs, fmt.Errorf("policy %q: ima_allowlist: %w", name, err))
	}
	if len(c.IMAAllowlistPaths) > 0 {
		if p.IMAAllowlist == nil {
			p.IMAAllowlist = map[string]bool{}
		}
		if err := loadIMAAllowlist(c.IMAAllowlistFiles(dir), p.IMAAllowlist); err != nil {
			errs = append(errs, fmt.Errorf("policy %q: ima_allowlist_paths: %w", name, err))
		}
	}
	errs = append(errs, c.compileRego(p, dir)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// compileRego prepares the Rego policy of c (rego_path) into p.
func (c Config) compileRego(p *Policy, dir string) []error {
	if c.RegoPath == "" {
		if c.Query != "" {
			return []error{fmt.Errorf("policy %q: query needs rego_path", p.Name)}
		}
		return nil
	}
	if c.SecureBoot || c.EKCertificate || len(c.PCRs) > 0 || len(c.BootComponents) > 0 || len(c.IMAAllowlist) > 0 || len(c.IMAAllowlistPaths) > 0 {
		return []error{fmt.Errorf("policy %q: rego_path cannot be combined with secure_boot, ek_certificate, pcrs, boot_components or ima_allowlist(_paths): the Rego policy decides alone", p.Name)}
	}
	r, err := compileRego(regoPath(c.RegoPath, dir), c.Query)
	if err != nil {
		return []error{fmt.Errorf("policy %q: rego_path: %w", p.Name, err)}
	}
	p.rego = r
	return nil
}

// ParsePCR parses a reference value "<bank>:<index>:<hex>".
func ParsePCR(ref string) (tpmquote.HashAlg, int, []byte, error) {
	parts := strings.Split(ref, ":")
	if len(parts) != 3 {
		return 0, 0, nil, errors.New("want <bank>:<index>:<hex>")
	}
	alg, err := tpmquote.ParseHashAlg(parts[0])
	if err != nil {
		return 0, 0, nil, err
	}
	idx, err := strconv.Atoi(parts[1])
	if err != nil {
		return 0, 0, nil, err
	}
	if idx < 0 || idx > tpmquote.MaxPCR {
		return 0, 0, nil, fmt.Errorf("PCR %d out of range 0..%d", idx, tpmquote.MaxPCR)
	}
	val, err := hex.DecodeString(parts[2])
	if err != nil {
		return 0, 0, nil, err
	}
	if len(val) != alg.Size() {
		return 0, 0, nil, fmt.Errorf("%d bytes, want %d", len(val), alg.Size())
	}
	return alg, idx, val, nil
}

// loadIMAAllowlist reads files in sha256sum's output format ("<hex>  <path>",
// or a digest alone; lines starting with # are comments), so that an
// operator can make one with `find /usr/bin -type f -exec sha256sum {} +`.
// The path is informational: IMA allowlists match digests.
func loadIMAAllowlist(paths []string, into map[string]bool) error {
	return readfile.Each(paths, MaxFileSize, func(path string, b []byte) error {
		return parseIMAAllowlist(path, b, into)
	})
}

// parseIMAAllowlist adds the digests of one allowlist file's contents b to
// into; path names the file in errors.
func parseIMAAllowlist(path string, b []byte, into map[string]bool) error {
	return readfile.Lines(path, b, func(line int, s string) error {
		if s == "" || s[0] == '#' {
			return nil
		}
		digest, _, _ := strings.Cut(s, " ")
		if !isDigest(digest) {
			return fmt.Errorf("%s line %d: %q is not a hex digest", path, line, truncate(digest))
		}
		into[strings.ToLower(digest)] = true
		return nil
	})
}

// truncate shortens what an error quotes from a file to 80 bytes.
func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}

// hexSet returns the set of lowercase hex digests, nil for an empty list.
func hexSet(list []string) (map[string]bool, error) {
	if len(list) == 0 {
		return nil, nil
	}
	set := map[string]bool{}
	for _, h := range list {
		if !isDigest(h) {
			return nil, fmt.Errorf("%q is not a hex digest", truncate(h))
		}
		set[strings.ToLower(h)] = true
	}
	return set, nil
}

// isDigest reports whether s is a hex digest of SHA-1 size or more.
// isDigest reports whether s is a hex SHA-1, SHA-256 (or SM3), SHA-384 or
// SHA-512 digest, the sizes IMA and the TPM banks use.
func isDigest(s string) bool {
	switch len(s) {
	case 40, 64, 96, 128:
		_, err := hex.DecodeString(s)
		return err == nil
	}
	return false
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
