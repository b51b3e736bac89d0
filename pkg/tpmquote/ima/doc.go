// Package ima parses the Linux Integrity Measurement Architecture (IMA)
// runtime measurement log and replays it into the PCR it extends (PCR 10), so
// a remote attestation verifier can check the log against a TPM quote.
//
// No maintained Go library parses the IMA log, so this package is written by
// hand from the kernel sources (security/integrity/ima: ima_fs.c,
// ima_template_lib.c, ima_crypto.c, ima_queue.c). It is pure Go: bytes in,
// result out, no cgo and no device access.
//
// # Formats
//
// [Parse] reads either form the kernel publishes in securityfs:
//
//   - binary_runtime_measurements: per entry a little-endian u32 PCR index,
//     the template hash (20 bytes of SHA-1; the per-bank
//     binary_runtime_measurements_sha256 file of newer kernels carries
//     SHA-256 template hashes, see [WithTemplateHash]), a u32 length and the
//     template name, a u32 length and the template data. The kernel writes
//     the integers in host byte order unless booted with ima_canonical_fmt;
//     this package reads little-endian only.
//   - ascii_runtime_measurements: one line per entry,
//     "PCR template-hash template-name alg:file-hash path [signature]"
//     (ima-buf: "... alg:buffer-hash event-name buffer-hex").
//     The template data is rebuilt from the fields, byte for byte as the
//     kernel builds it, so the template hash can be checked and every PCR
//     bank replayed. The kernel replaces spaces in paths with '_', so the
//     fields are unambiguous; a path holding a newline is not, and such a
//     log fails to parse or to verify. Prefer the binary form.
//
// The form is detected (an ASCII log starts with a decimal PCR index and a
// space, which a binary log with a PCR index below 24 never does) or set
// with [WithFormat].
//
// # Templates
//
// Four templates are understood: "ima-ng" (fields d-ng and n-ng),
// "ima-sig" (d-ng, n-ng, sig), "ima-buf" (d-ng, n-ng, buf) and the legacy
// "ima" (d, n). Any other template (ima-modsig, evm-sig, custom formats) is
// rejected: an entry this package cannot decode cannot be checked.
//
//   - d-ng is the hash algorithm name, ':', NUL and the file digest
//     ("sha256:\x00" + 32 bytes); for ima-buf, the digest of the buffer.
//   - n-ng is the path followed by NUL; for ima-buf, the event name
//     ("kexec-cmdline", a keyring name, a critical data event such as
//     "selinux-state").
//   - sig is the security.ima signature (may be empty).
//   - buf is the measured buffer itself (may be empty): the kexec command
//     line, a key, a critical data record. Like every field of these
//     templates it is a u32 length and its bytes in the template data, and
//     hex in the ASCII form. The kernel logs these entries in the same log
//     and PCR as file measurements, so they are parsed and replayed like any
//     other entry; [Entry.Buffer] holds the bytes.
//   - The legacy "ima" template holds a 20-byte SHA-1 digest and a name of at
//     most 255 bytes; the kernel hashes the digest followed by the name
//     NUL-padded to 256 bytes, and [Entry.TemplateData] holds exactly those
//     276 bytes.
//
// # What is checked
//
// Every non-violation entry's logged template hash must equal the hash of its
// template data. A violation entry (template hash all zeros: the kernel
// logged a ToMToU or open-writers violation and could not measure the file)
// is not hashed; its file digest must be zero, and its fields are NOT covered
// by any PCR: replay extends 0xFF..FF for it, whatever it says.
//
// [Log.Replay] computes the expected PCR 10 of a bank: starting from zeros,
// PCR = H(PCR || H(template data)) per PCR 10 entry, or H(PCR || 0xFF..FF)
// per violation. This is how current kernels extend every bank (since the
// 2020 per-bank template digest change, Linux 5.8 as far as we know); older
// kernels extended non-SHA-1 banks with the zero-padded SHA-1 template hash,
// and their SHA-256 bank does not replay with this package (their SHA-1 bank
// does). [Verify] parses and requires the replay to equal the
// quoted PCR 10 in every bank given.
//
// Entries recorded in other PCRs (an IMA policy rule with pcr=) are parsed
// but not anchored by [Verify]; [Log.FindFileHash] and [Log.FindFile] ignore
// them, and violation entries, so that they only report measurements the
// quote covers.
//
// The template name is NOT covered: the template hash and the PCR cover the
// template data only. ima-sig and ima-buf data have the same layout, so an
// entry can be relabelled from one to the other and still verify; a name
// that changes the layout makes the log fail. Nothing in this package
// classifies an entry by its name: [Log.FindFileHash] matches ima-buf entries
// too, and a caller that checks measurements against an allowlist must check
// every entry. Nor can the contents tell a buffer from a file: the kernel
// logs a file's bare name when it cannot build its path, and a file's
// signature field is whatever its security.ima attribute holds.
//
// # Boot aggregate
//
// A kernel with IMA logs the boot aggregate ([BootAggregateName]) as its
// first entry of PCR 10, before any file; [Log.BootAggregateEntry] returns
// it. Its digest is [BootAggregate] of PCRs 0-7 (SHA-1) or 0-9 (other banks),
// so a verifier with those PCRs quoted can check it. A log whose first entry
// is not one is not a kernel's: notably, a log checked against a PCR 10 that
// was never extended verifies, under [WithPrefixMatch], as zero entries.
//
// A log read after the quote may hold entries appended after it. By default
// [Verify] needs the whole log to match the quote; with [WithPrefixMatch] it
// accepts the shortest prefix of the log that matches the quote in every
// bank and returns only that prefix, dropping the entries the quote does not
// cover.
//
// # Limits
//
// Every length read from the input is checked against the bytes left and
// against a named limit ([MaxLogSize], [MaxEntries], [MaxTemplateNameLen],
// [MaxTemplateDataLen], [MaxPathLen], [MaxLegacyNameLen],
// [MaxSignatureLen], [MaxBufferLen], [MaxPCR]) before anything is allocated
// for it.
package ima
