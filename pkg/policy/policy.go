package policy

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hwattest/hwattest/pkg/tpmquote"
)

// Policy is one named rule set. Zero-valued rules are not checked.
type Policy struct {
	Name string
	// Required refuses a node that fails the policy; otherwise the node
	// only lacks the policy's selector.
	Required bool
	// SecureBoot requires the verified boot log to show secure boot on.
	SecureBoot bool
	// EKCertificate requires an EK certificate that chained to a trusted CA.
	EKCertificate bool
	// PCRs lists the allowed values of quoted PCRs, by bank and index.
	PCRs map[tpmquote.HashAlg]map[int][][]byte
	// BootComponents, when not nil, lists the allowed digests (of the
	// replayed bank) of boot components: every digest extended into PCR 2
	// and PCR 4 (tpmquote Boot.ComponentPCRs, both required) must be one of
	// them, whatever event type the log gives it (types are not measured),
	// before or after the PCR's separator (a run time extend adds digests,
	// it cannot remove one).
	BootComponents map[string]bool
	// IMAAllowlist, when not nil, lists the allowed file hashes (hex): an
	// IMA log must have been verified, start with the kernel's
	// boot_aggregate, and every other measurement in it (files, and
	// buffers, which the template name cannot tell from files) must be one
	// of them.
	IMAAllowlist map[string]bool

	// rego, when not nil, decides the policy instead of the rules above
	// (rego.go).
	rego *regoPolicy
}

// Evaluate returns why res fails the policy, one line per failed rule; none
// when it passes.
func (p *Policy) Evaluate(res *tpmquote.Result) []string {
	if p.rego != nil {
		return p.rego.evaluate(res)
	}
	var fails []string
	if p.EKCertificate && !res.EKCertVerified {
		fails = append(fails, "the EK has no certificate from a trusted CA")
	}
	if p.SecureBoot {
		switch {
		case res.Boot == nil:
			fails = append(fails, "secure boot required, but no boot event log was verified")
		case !res.Boot.SecureBoot.Known:
			fails = append(fails, "secure boot required, but the boot log does not establish it ("+res.Boot.SecureBoot.Detail+")")
		case !res.Boot.SecureBoot.Enabled:
			fails = append(fails, "secure boot required, but it is disabled")
		}
	}
	for _, alg := range sortedBanks(p.PCRs) {
		idxs := make([]int, 0, len(p.PCRs[alg]))
		for i := range p.PCRs[alg] {
			idxs = append(idxs, i)
		}
		sort.Ints(idxs)
		for _, i := range idxs {
			got, ok := res.PCRs[alg][i]
			if !ok {
				fails = append(fails, fmt.Sprintf("%s PCR %d has a reference value but is not quoted", alg, i))
				continue
			}
			if !anyEqual(p.PCRs[alg][i], got) {
				fails = append(fails, fmt.Sprintf("%s PCR %d is %x, not a reference value", alg, i, got))
			}
		}
	}
	if p.BootComponents != nil {
		fails = append(fails, p.bootComponents(res)...)
	}
	if p.IMAAllowlist != nil {
		switch {
		case res.IMA == nil:
			fails = append(fails, "IMA allowlist required, but no IMA log was verified")
		case res.IMA.BootAggregate == nil:
			// PCR 10 never extended (any log then verifies as zero
			// entries), or a log that is not the kernel's.
			fails = append(fails, "IMA allowlist required, but the verified IMA log does not start with the kernel's boot_aggregate: IMA did not measure this boot")
		default:
			for _, e := range res.IMA.Entries {
				if !p.IMAAllowlist[hex.EncodeToString(e.Hash)] {
					fails = append(fails, fmt.Sprintf("IMA: %s (%s:%x) is not allowed", e.Path, e.HashAlg, e.Hash))
				}
			}
		}
	}
	return fails
}

// componentPCRs are the PCRs whose every digest a boot_components rule
// judges (tpmquote Boot.ComponentPCRs).
var componentPCRs = []int{2, 4}

// bootComponents judges every digest of componentPCRs by digest alone.
func (p *Policy) bootComponents(res *tpmquote.Result) []string {
	if res.Boot == nil {
		return []string{"boot components required, but no boot event log was verified"}
	}
	var fails []string
	for _, idx := range componentPCRs {
		if !slices.Contains(res.Boot.ComponentPCRs, idx) {
			fails = append(fails, fmt.Sprintf("boot components required, but the log does not establish PCR %d's (not quoted, or replayed only in sha1)", idx))
		}
	}
	if len(fails) > 0 {
		return fails
	}
	for _, c := range res.Boot.Components {
		if !slices.Contains(componentPCRs, c.PCR) {
			continue
		}
		if d := hex.EncodeToString(c.Digest); !p.BootComponents[d] {
			fails = append(fails, fmt.Sprintf("boot component %s (PCR %d, logged as %s) is not allowed", d, c.PCR, c.Type))
		}
	}
	return fails
}

// Evaluate evaluates every policy and returns the names of those satisfied
// (sorted) and the reasons a required policy failed.
func Evaluate(policies []*Policy, res *tpmquote.Result) (satisfied []string, refused []string) {
	o := EvaluateAll(policies, res)
	return o.Satisfied, o.Refused
}

// Outcome is what every policy said of one attestation.
type Outcome struct {
	// Satisfied are the names of the policies the node passes, sorted.
	Satisfied []string
	// Refused are why required policies failed, one line per policy
	// ("policy \"<name>\": <reasons>").
	Refused []string
	// Failed are why report-only policies failed, in the same form: the
	// node is attested without their selectors.
	Failed []string
}

// EvaluateAll evaluates every policy, in order.
func EvaluateAll(policies []*Policy, res *tpmquote.Result) Outcome {
	var o Outcome
	for _, p := range policies {
		fails := p.Evaluate(res)
		switch {
		case len(fails) == 0:
			o.Satisfied = append(o.Satisfied, p.Name)
		case p.Required:
			o.Refused = append(o.Refused, fmt.Sprintf("policy %q: %s", p.Name, strings.Join(fails, "; ")))
		default:
			o.Failed = append(o.Failed, fmt.Sprintf("policy %q: %s", p.Name, strings.Join(fails, "; ")))
		}
	}
	sort.Strings(o.Satisfied)
	return o
}

// CheckQuoted returns an error for each rule of p that no attestation can
// pass when the verifier quotes the PCRs quoted (allowSHA1Boot as in
// tpmquote.Options): a rule that reads a log the quote does not cover. A
// server refuses such a policy at configure time rather than refuse (or
// withhold a selector from) every node. Reference values of PCRs outside
// quoted are Compile's to refuse.
func (p *Policy) CheckQuoted(quoted tpmquote.PCRSelection, allowSHA1Boot bool) error {
	bootBank := func(idx int) bool {
		for alg, idxs := range quoted {
			if (alg != tpmquote.SHA1 || allowSHA1Boot) && slices.Contains(idxs, idx) {
				return true
			}
		}
		return false
	}
	bootBanks := "a sha256 (or longer) bank"
	if allowSHA1Boot {
		bootBanks = "any bank"
	}
	var errs []error
	if p.SecureBoot && !bootBank(7) {
		errs = append(errs, fmt.Errorf("policy %q: secure_boot: reads the boot log's PCR 7, which the server does not quote in %s (add 7 to pcrs)", p.Name, bootBanks))
	}
	if p.BootComponents != nil {
		for _, idx := range componentPCRs {
			if !bootBank(idx) {
				errs = append(errs, fmt.Errorf("policy %q: boot_components: reads the boot log's PCR %d, which the server does not quote in %s (add %d to pcrs)", p.Name, idx, bootBanks, idx))
			}
		}
	}
	if p.IMAAllowlist != nil {
		quotedIMA := false
		for _, idxs := range quoted {
			quotedIMA = quotedIMA || slices.Contains(idxs, imaPCR)
		}
		if !quotedIMA {
			errs = append(errs, fmt.Errorf("policy %q: ima_allowlist: reads the IMA log, which extends PCR %d, and the server does not quote PCR %d (add %d to pcrs)", p.Name, imaPCR, imaPCR, imaPCR))
		}
	}
	return errors.Join(errs...)
}

// imaPCR is the PCR the kernel's IMA extends.
const imaPCR = 10

func anyEqual(allowed [][]byte, got []byte) bool {
	for _, a := range allowed {
		if bytes.Equal(a, got) {
			return true
		}
	}
	return false
}

func sortedBanks(m map[tpmquote.HashAlg]map[int][][]byte) []tpmquote.HashAlg {
	out := make([]tpmquote.HashAlg, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
