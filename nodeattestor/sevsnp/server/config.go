package server

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/google/go-sev-guest/verify/trust"
	"github.com/spiffe/go-spiffe/v2/spiffeid"

	"github.com/hwattest/hwattest/internal/hclconf"
	"github.com/hwattest/hwattest/internal/nodeevents"
	"github.com/hwattest/hwattest/pkg/namedpolicy"
	"github.com/hwattest/hwattest/pkg/snpreport"
)

// maxChainFileSize bounds an amd_cert_chains file (two certificates).
const maxChainFileSize = 64 << 10

// Config is the server plugin's HCL configuration.
type Config struct {
	// AMDCertChains maps a product line ("Milan", "Genoa", "Turin") to a PEM
	// file holding its ASK then ARK, as AMD KDS serves them
	// (https://kdsintf.amd.com/vcek/v1/<product>/cert_chain). Unset: AMD's
	// roots for every product line embedded in go-sev-guest. Set: only the
	// product lines named.
	AMDCertChains map[string]string `hcl:"amd_cert_chains"`
	// AllowKDS lets the server fetch a VCEK missing from the agent's
	// evidence from AMD's Key Distribution Service. Off by default: the
	// server needs no network and refuses evidence without its VCEK.
	AllowKDS bool `hcl:"allow_kds"`
	// Policies are named rule sets evaluated on every attestation.
	Policies map[string]snpreport.PolicyConfig `hcl:"policy"`
	// EventWebhooks receive a CloudEvent when a node is attested, refused,
	// or loses or gains a policy (internal/nodeevents).
	EventWebhooks map[string]nodeevents.WebhookConfig `hcl:"event_webhook"`
}

type config struct {
	trustDomain spiffeid.TrustDomain
	verifier    *snpreport.Verifier
	policies    []*snpreport.Policy
	webhooks    []*nodeevents.Webhook
}

func buildConfig(text, trustDomain string) (*config, error) {
	var c Config
	errs := hclconf.Decode(text, &c)
	td, err := spiffeid.TrustDomainFromString(trustDomain)
	if err != nil {
		errs = append(errs, fmt.Errorf("trust domain %q: %w", trustDomain, err))
	}
	var roots map[string][]*trust.AMDRootCerts
	if len(c.AMDCertChains) > 0 {
		roots = map[string][]*trust.AMDRootCerts{}
		lines := make([]string, 0, len(c.AMDCertChains))
		for k := range c.AMDCertChains {
			lines = append(lines, k)
		}
		sort.Strings(lines)
		for _, line := range lines {
			path := c.AMDCertChains[line]
			if !slices.Contains(snpreport.ProductLines, line) {
				errs = append(errs, fmt.Errorf("amd_cert_chains: unknown product line %q (want %s)", line, strings.Join(snpreport.ProductLines, ", ")))
				continue
			}
			r, err := readChain(line, path)
			if err != nil {
				errs = append(errs, fmt.Errorf("amd_cert_chains: %s: %w", line, err))
				continue
			}
			roots[line] = []*trust.AMDRootCerts{r}
		}
	}
	policies, policyErrs := namedpolicy.Compile[snpreport.PolicyConfig, *snpreport.Policy](c.Policies)
	errs = append(errs, policyErrs...)
	webhooks, hookErrs := nodeevents.Compile(c.EventWebhooks)
	errs = append(errs, hookErrs...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	v, err := snpreport.NewVerifier(snpreport.Options{Roots: roots, AllowKDS: c.AllowKDS})
	if err != nil {
		return nil, err
	}
	return &config{trustDomain: td, verifier: v, policies: policies, webhooks: webhooks}, nil
}

// readChain reads a KDS cert_chain PEM file (ASK, then ARK) with
// go-sev-guest's parser, which checks the pair's shape.
func readChain(line, path string) (*trust.AMDRootCerts, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxChainFileSize {
		return nil, fmt.Errorf("%s is %d bytes, more than %d", path, fi.Size(), maxChainFileSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := trust.AMDRootCertsProduct(line)
	if err := r.FromKDSCertBytes(b); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}
