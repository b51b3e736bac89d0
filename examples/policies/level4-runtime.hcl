# Level 4: level 3 + an IMA runtime allowlist: every file the kernel's IMA
# measured since boot is on the allowlist.
#
# Needs, besides level 3's values (copy them from hwattest reference's output for
# level3-reference, or run it again with --name level4-runtime and add the
# allowlist line):
#   - on the node, an IMA policy that measures what matters (e.g. the kernel's
#     ima_policy=tcb) and the agent's ima_log_path =
#     "/sys/kernel/security/ima/binary_runtime_measurements";
#   - on the server, PCR 10 quoted: pcrs = { sha256 = [0, 1, 2, 3, 4, 5, 6, 7, 10] }.
# The allowlist files are in sha256sum's format, read when the plugin is
# configured (relative paths next to this file). Derive the policy and its
# allowlist from the evidence of known-good machines, captured with their IMA log:
#   hwattest evidence --ima-log /sys/kernel/security/ima/binary_runtime_measurements \
#     --pcrs sha256:0-7,10 -o node-a.json            # on each known-good machine
#   hwattest reference --name level4-runtime -o level4-runtime.hcl \
#     --ima-allowlist level4-allowlist.sha256sum node-*.json
# or list files by hand, and the digests of the buffers the node's IMA policy
# measures (ima-buf entries: kexec command line, keys), which the policy checks
# like files (IMA's first entry, boot_aggregate, is not checked, but required):
#   find /usr/bin /usr/sbin /usr/lib -type f -exec sha256sum {} + > level4-allowlist.sha256sum
# Add PCRs 8 and 9 to pcrs to have the boot_aggregate checked against the quote.
#
# THE PCR VALUES BELOW ARE PLACEHOLDERS (see level3-reference.hcl), and the
# shipped allowlist lists no file: a node fails this policy until both are
# replaced.
policy "level4-runtime" {
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
  boot_components = [
    "0000000000000000000000000000000000000000000000000000000000000000", # PCR 4 EV_EFI_BOOT_SERVICES_APPLICATION
  ]
  ima_allowlist_paths = ["level4-allowlist.sha256sum"]
}
