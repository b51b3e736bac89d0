# Level 3: level 2 + the reference PCR values and boot components of known-good
# machines.
#
# THE VALUES BELOW ARE PLACEHOLDERS that no machine matches (all zeros: a node
# fails this policy until they are replaced, it is never passed by mistake).
# Replace this file with the output of hwattest reference, run on evidence
# captured from known-good machines of the fleet (docs/operations.md):
#
#   hwattest evidence -o node-a.json                       # on each reference machine
#   hwattest reference --name level3-reference -o level3-reference.hcl node-*.json
#
# hwattest reference writes exactly this block: ek_certificate when every EK
# certificate chained, secure_boot when every log showed it on, the PCR values
# per bank (each value seen where machines differ, or the PCR left out with
# --on-difference omit) and every digest measured into PCRs 2 and 4. The
# server plugin must quote every PCR listed (its pcrs, default sha256 0-7).
policy "level3-reference" {
  required    = false
  secure_boot = true
  pcrs = [
    "sha256:0:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:1:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:2:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:3:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:4:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:5:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:6:0000000000000000000000000000000000000000000000000000000000000000",
    "sha256:7:0000000000000000000000000000000000000000000000000000000000000000",
  ]
  # every digest the verified boot logs measured into PCRs 2 and 4
  boot_components = [
    "0000000000000000000000000000000000000000000000000000000000000000", # PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION
  ]
}
