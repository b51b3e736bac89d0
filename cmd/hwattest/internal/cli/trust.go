package cli

import (
	"crypto/x509"
	"flag"
	"fmt"
	"strings"

	"github.com/hwattest/hwattest/nodeattestor/tpm"
	"github.com/hwattest/hwattest/nodeattestor/tpm/server/ekca"
	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// requireNone is the --require value that accepts any EK (for looking at
// evidence from TPMs whose CA is not at hand); the EK checks are still shown.
const requireNone = "none"

// trustFlags say which EKs are trusted, as the server plugin's ek_ca_paths,
// bundled_ek_cas, ek_hash_paths and require do.
type trustFlags struct {
	cas     listFlag
	bundled bool
	hashes  listFlag
	require string
}

// register declares --ek-ca and --bundled-ek-cas, and with withRequire also
// --ek-hashes and --require.
func (t *trustFlags) register(fs *flag.FlagSet, withRequire bool) {
	fs.Var(&t.cas, "ek-ca", "a `PATH` of PEM EK CA certificates, or a directory of them (repeatable):\nself-signed ones are trusted roots, the others intermediates")
	fs.BoolVar(&t.bundled, "bundled-ek-cas", true, "also trust the TPM vendor EK CAs built into hwattest (as the plugin's bundled_ek_cas);\n--bundled-ek-cas=false trusts only --ek-ca")
	if withRequire {
		fs.Var(&t.hashes, "ek-hashes", "a `PATH` listing allowed EK hashes, one hex SHA-256 per line, or a directory of such files (repeatable)")
		fs.StringVar(&t.require, "require", "certificate", "what proves a genuine TPM, `MODE`: certificate, hash, either, both (as the plugin's require),\nor none to accept any EK and only report its checks")
	}
}

// pools returns the trusted CA pools and a description of them; nil pools
// when no CA is trusted.
func (t *trustFlags) pools() (roots, inter *x509.CertPool, desc string, err error) {
	if !t.bundled && len(t.cas) == 0 {
		return nil, nil, "no EK CA", nil
	}
	roots, inter = x509.NewCertPool(), x509.NewCertPool()
	var parts []string
	if t.bundled {
		n, err := ekca.AddBundled(roots, inter)
		if err != nil {
			return nil, nil, "", err
		}
		parts = append(parts, fmt.Sprintf("%d bundled vendor CA certificates", n))
	}
	if len(t.cas) > 0 {
		n, err := ekca.Load(t.cas, tpm.MaxListFileSize, roots, inter)
		if err != nil {
			return nil, nil, "", usageErrorf("--ek-ca: %w", err)
		}
		if n == 0 {
			return nil, nil, "", usageErrorf("--ek-ca: no PEM certificate in %s", strings.Join(t.cas, ", "))
		}
		parts = append(parts, fmt.Sprintf("%d from --ek-ca", n))
	}
	return roots, inter, strings.Join(parts, " and "), nil
}

// policy returns the EK policy the flags describe. With --require none,
// every EK is accepted: Listed then reports true for every hash, and listed
// is the real allowlist for reporting.
func (t *trustFlags) policy() (p tpmquote.EKPolicy, listed func(string) bool, desc string, err error) {
	p.Roots, p.Intermediates, desc, err = t.pools()
	if err != nil {
		return p, nil, "", err
	}
	allow := map[string]bool{}
	if len(t.hashes) > 0 {
		if allow, err = tpm.LoadEKHashes(t.hashes); err != nil {
			return p, nil, "", usageErrorf("--ek-hashes: %w", err)
		}
		desc += fmt.Sprintf(", %d allowed EK hashes", len(allow))
	}
	listed = func(h string) bool { return allow[h] }
	p.Listed = listed
	switch r, err := tpmquote.ParseEKRequirement(t.require); {
	case t.require == requireNone:
		p.Require = tpmquote.RequireHash
		p.Listed = func(string) bool { return true }
	case err == nil:
		p.Require = r
	default:
		return p, nil, "", usageErrorf("--require %q: want certificate, hash, either, both or none", t.require)
	}
	needCA := p.Require == tpmquote.RequireCertificate || p.Require == tpmquote.RequireBoth
	if t.require != requireNone && needCA && p.Roots == nil {
		return p, nil, "", usageErrorf("--require %s needs --ek-ca or --bundled-ek-cas", t.require)
	}
	if (t.require == "hash" || t.require == "both") && len(t.hashes) == 0 {
		return p, nil, "", usageErrorf("--require %s needs --ek-hashes", t.require)
	}
	return p, listed, desc, nil
}
