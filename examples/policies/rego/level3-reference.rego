# Level 3 in Rego: the same decision as ../level3-reference.hcl, written as
# an OPA policy (Rego v1). The plugin evaluates it over the verified
# attestation result (input: docs/nodeattestor-tpm.md, "Rego policies"); the
# node meets the level when data.hwattest.allow is true and data.hwattest.deny
# is empty.
#
# THE VALUES BELOW ARE PLACEHOLDERS that no machine matches (all zeros), as in
# the HCL template. Replace this file with the output of
#   hwattest reference --name level3-reference -o level3-reference.hcl \
#     --rego level3-reference.rego node-*.json
# run on evidence captured from known-good machines: the same rules, with
# their values.
package hwattest

# reference_pcrs: bank -> PCR index -> the allowed values (any of them).
reference_pcrs := {"sha256": {
		"0": {"0000000000000000000000000000000000000000000000000000000000000000"},
		"1": {"0000000000000000000000000000000000000000000000000000000000000000"},
		"2": {"0000000000000000000000000000000000000000000000000000000000000000"},
		"3": {"0000000000000000000000000000000000000000000000000000000000000000"},
		"4": {"0000000000000000000000000000000000000000000000000000000000000000"},
		"5": {"0000000000000000000000000000000000000000000000000000000000000000"},
		"6": {"0000000000000000000000000000000000000000000000000000000000000000"},
		"7": {"0000000000000000000000000000000000000000000000000000000000000000"},
}}

# boot_components: every digest the verified boot log measured into PCRs 2
# and 4 must be one of these.
boot_components := {
	"0000000000000000000000000000000000000000000000000000000000000000", # PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION
}

default allow := false

allow if count(deny) == 0

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
