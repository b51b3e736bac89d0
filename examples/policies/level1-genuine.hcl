# Level 1: genuine TPM.
#
# Every node the tpm node attestor attests already proved that its EK is genuine,
# as the plugin's EK settings demand (require = "certificate": the EK certificate
# chains to ek_ca_paths or the bundled vendor CAs; "hash": its hash is enrolled in
# ek_hash_paths; "either"; "both"), and that its AK is in that EK's TPM (credential
# activation, on every attestation and re-attestation). This policy adds no rule on
# top, so every attested node gets the selector tpm:policy:level1-genuine: a
# registration entry that requires it requires a genuine, activated TPM.
#
# To admit only nodes whose EK a vendor certified (and not enrolled hashes) at
# this level, uncomment ek_certificate.
#
# Levels are cumulative: level2-measured-boot, level3-reference and
# level4-runtime each hold every rule of the levels below. See
# docs/operations.md for rolling a level out (required = false first).
policy "level1-genuine" {
  required = false
  # ek_certificate = true
}
