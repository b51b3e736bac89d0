# Confidential VM template for the sev_snp node attestor: the body of its
# plugin_data (or a plugin_data_file). Levels, each report-only to start
# with (required = false): a VM that fails one only lacks the selector
# sev_snp:policy:<name>. Placeholders fail closed: no VM has the all-zero
# measurement. Replace them with your image's launch measurement (for
# example from the sev_snp:measurement selector of a VM you trust, or from
# your VMM's measurement tool), then set required = true on the level you
# enforce.

# AMD's roots embedded in go-sev-guest (Milan, Genoa, Turin) are trusted by
# default; to pin product lines, name their KDS cert_chain files:
# amd_cert_chains = { Milan = "/etc/spire/amd/milan_cert_chain.pem" }
allow_kds = false

# Level 1: a genuine SEV-SNP VM the host cannot debug or migrate out through
# a migration agent (every policy refuses both unless it allows them), at
# the privileged VMPL.
policy "cvm-genuine" {
  required = false
  vmpls    = [0]
}

# Level 2: + firmware at least at a TCB you accept (AMD security bulletins
# name the fixed SPL per component).
policy "cvm-patched" {
  required    = false
  vmpls       = [0]
  minimum_tcb = { bootloader = 3, tee = 0, snp = 8, microcode = 115 }
}

# Level 3: + the image you built (launch measurement) and no SMT.
policy "cvm-reference" {
  required     = false
  vmpls        = [0]
  minimum_tcb  = { bootloader = 3, tee = 0, snp = 8, microcode = 115 }
  forbid_smt   = true
  measurements = ["000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"]
}
