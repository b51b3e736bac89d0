package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Rule texts of a Rego reference policy: the same rules, with the same
// reasons, as the HCL policy's (pkg/policy Evaluate), and as the level 3
// template examples/policies/rego/level3-reference.rego (a test keeps the
// template's rules equal to these).
const (
	regoDecision = `default allow := false

allow if count(deny) == 0
`
	regoEKCertificate = `
# An EK certificate from a trusted CA.
deny contains "the EK has no certificate from a trusted CA" if not input.ek.certificate_verified
`
	regoSecureBoot = `
# Secure boot on, from the verified boot log.
deny contains "secure boot required, but no boot event log was verified" if input.boot == null

deny contains msg if {
	input.boot != null
	not input.boot.secure_boot.known
	msg := sprintf("secure boot required, but the boot log does not establish it (%s)", [input.boot.secure_boot.detail])
}

deny contains "secure boot required, but it is disabled" if {
	input.boot.secure_boot.known
	not input.boot.secure_boot.enabled
}
`
	regoPCRs = `
# Every PCR with reference values is quoted and holds one of them.
deny contains msg if {
	some bank, idx
	reference_pcrs[bank][idx]
	not input.pcrs[bank][idx]
	msg := sprintf("%s PCR %s has a reference value but is not quoted", [bank, idx])
}

deny contains msg if {
	some bank, idx
	allowed := reference_pcrs[bank][idx]
	got := input.pcrs[bank][idx]
	not allowed[got]
	msg := sprintf("%s PCR %s is %s, not a reference value", [bank, idx, got])
}
`
	regoBootComponents = `
# Every boot component of PCRs 2 and 4 is known, and the log establishes
# both PCRs' components.
deny contains "boot components required, but no boot event log was verified" if input.boot == null

deny contains msg if {
	input.boot != null
	some pcr in [2, 4]
	not pcr in input.boot.component_pcrs
	msg := sprintf("boot components required, but the log does not establish PCR %d's", [pcr])
}

deny contains msg if {
	some c in input.boot.components
	c.pcr in {2, 4}
	not boot_components[c.digest]
	msg := sprintf("boot component %s (PCR %d, logged as %s) is not allowed", [c.digest, c.pcr, c.type])
}
`
)

// regoRules are the rules of a Rego reference policy with these parts.
func regoRules(ekCertificate, secureBoot, pcrs, components bool) string {
	var b strings.Builder
	b.WriteString(regoDecision)
	if ekCertificate {
		b.WriteString(regoEKCertificate)
	}
	if secureBoot {
		b.WriteString(regoSecureBoot)
	}
	if pcrs {
		b.WriteString(regoPCRs)
	}
	if components {
		b.WriteString(regoBootComponents)
	}
	return b.String()
}

// rego writes the derived reference values as a Rego module (package
// hwattest, decision data.hwattest.allow) that decides as the HCL policy
// d.hcl writes.
func (d *derived) rego(name string, ms []machine, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Reference values for policy %q, in Rego, written by hwattest reference at %s\n", name, now.Format(time.RFC3339))
	fmt.Fprintf(&b, "# from %d evidence files, each verified offline:\n", len(ms))
	for _, m := range ms {
		fmt.Fprintf(&b, "#   %s: host %q, captured %s, EK %s\n", oneLine(m.path), oneLine(m.file.Host), m.file.Captured.UTC().Format(time.RFC3339), m.res.EKHash)
	}
	for _, s := range d.differences {
		fmt.Fprintf(&b, "# differ: %s\n", oneLine(s))
	}
	b.WriteString("package hwattest\n")
	components := d.componentsOmitted == "" && len(d.components) > 0
	if len(d.pcrs) > 0 {
		b.WriteString("\n# reference_pcrs: bank -> PCR index -> the allowed values (any of them).\nreference_pcrs := {")
		banks := map[string][]string{}
		var order []string
		for _, k := range sortedKeys(d.pcrs) {
			alg := k.alg.String()
			if _, ok := banks[alg]; !ok {
				order = append(order, alg)
			}
			vals := make([]string, len(d.pcrs[k]))
			for i, v := range d.pcrs[k] {
				vals[i] = fmt.Sprintf("%q", v)
			}
			banks[alg] = append(banks[alg], fmt.Sprintf("\t\t\"%d\": {%s},\n", k.idx, strings.Join(vals, ", ")))
		}
		for i, alg := range order {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q: {\n%s}", alg, strings.Join(banks[alg], ""))
		}
		b.WriteString("}\n")
	}
	if components {
		b.WriteString("\n# boot_components: every digest the verified boot log measured into PCRs 2\n# and 4 must be one of these.\nboot_components := {\n")
		hs := make([]string, 0, len(d.components))
		for h := range d.components {
			hs = append(hs, h)
		}
		sort.Strings(hs)
		for _, h := range hs {
			fmt.Fprintf(&b, "\t%q, # PCR %d %s\n", h, d.components[h].pcr, oneLine(d.components[h].typ))
		}
		b.WriteString("}\n")
	} else if d.componentsOmitted != "" {
		fmt.Fprintf(&b, "\n# boot components left out: %s\n", oneLine(d.componentsOmitted))
	}
	b.WriteString("\n")
	b.WriteString(regoRules(d.ekCertificate, d.secureBoot, len(d.pcrs) > 0, components))
	return b.String()
}

// regoHCL is the policy block that points at the Rego module ref.
func regoHCL(name string, required bool, ref string) string {
	return fmt.Sprintf(`# Policy %q decided by the Rego module %s (written by hwattest reference).
policy %q {
  required  = %v
  rego_path = %q
  query     = "data.hwattest.allow"
}
`, name, ref, name, required, ref)
}
