# Level 2: level 1 + measured boot verified and secure boot on.
#
# The node sent its boot event log (agent: event_log_path, the default
# /sys/kernel/security/tpm0/binary_bios_measurements), the log replayed to the
# quoted PCRs (server: pcrs must include 7, as the default sha256 0-7 does), and
# the verified UEFI SecureBoot variable in PCR 7 says secure boot is on. A node
# without a boot log, or whose log does not establish the state, fails.
policy "level2-measured-boot" {
  required    = false
  secure_boot = true
  # ek_certificate = true   # if level 1 uses it
}
