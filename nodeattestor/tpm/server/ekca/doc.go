// Package ekca holds the TPM vendor EK CA certificates (roots and
// intermediates) that the server plugin can trust with bundled_ek_cas and that
// `hwattest ek` checks a machine's EK certificate against: Infineon, Intel,
// Nuvoton/Nationz, STMicroelectronics, GlobalSign and Alibaba Cloud vTPM, from
// Keylime's tpm_cert_store, and Google Compute Engine's vTPM EK/AK CAs from
// go-tpm-tools' server/ca-certs (both Apache-2.0; see NOTICE in this
// directory). Some
// intermediates have expired; chain verification checks validity at the time
// of verification. The set is not a revocation source.
package ekca
