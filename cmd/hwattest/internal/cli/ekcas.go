package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/hwattest/hwattest/nodeattestor/tpm/server/ekca"
)

// bundledCA is one bundled EK CA certificate, as ek-cas prints it.
type bundledCA struct {
	File      string    `json:"file"`
	Kind      string    `json:"kind"` // root or intermediate
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotAfter  time.Time `json:"not_after"`
	SHA256    string    `json:"sha256"` // of the DER certificate
	PublicKey string    `json:"public_key"`
}

func ekCAsCommand() *command {
	return &command{
		name:    "ek-cas",
		summary: "list the TPM vendor EK CA certificates built into hwattest (bundled_ek_cas)",
		usage:   "ek-cas [--json]",
		help: `Lists the EK CA certificates that bundled_ek_cas = true trusts in the server
plugin and that hwattest ek, verify and reference use by default: each
certificate's file, whether it is a root (self-signed) or an intermediate,
its subject, expiry and SHA-256 fingerprint. To trust other vendors' CAs,
give their files with ek_ca_paths (hwattest: --ek-ca).`,
		flags: func(fs *flag.FlagSet) func(*env, []string) error {
			asJSON := fs.Bool("json", false, "print JSON")
			return func(e *env, args []string) error {
				if len(args) > 0 {
					return usageErrorf("unexpected argument %q", args[0])
				}
				return runEKCAs(e, *asJSON)
			}
		},
	}
}

func runEKCAs(e *env, asJSON bool) error {
	certs, err := ekca.Bundled()
	if err != nil {
		return err
	}
	list := make([]bundledCA, 0, len(certs))
	for _, c := range certs {
		kind := "intermediate"
		if ekca.IsRoot(c.Certificate) {
			kind = "root"
		}
		sum := sha256.Sum256(c.Raw)
		list = append(list, bundledCA{File: c.File, Kind: kind, Subject: c.Subject.String(), Issuer: c.Issuer.String(),
			NotAfter: c.NotAfter.UTC(), SHA256: hex.EncodeToString(sum[:]), PublicKey: keyDescription(c.PublicKey)})
	}
	if asJSON {
		b, err := json.MarshalIndent(list, "", "  ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(e.stdout, "%s\n", b)
		return err
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "FILE\tKIND\tKEY\tEXPIRES\tSUBJECT\n")
	for _, c := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.File, c.Kind, c.PublicKey, c.NotAfter.Format("2006-01-02"), c.Subject)
	}
	fmt.Fprintf(tw, "\n%d certificates\n", len(list))
	return tw.Flush()
}
