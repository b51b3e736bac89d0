package ima

import "crypto"

// BootAggregateName is the n-ng field of the first entry the kernel logs, at
// IMA initialisation, before any file: the boot aggregate, a digest of the
// TPM's PCRs 0 to 9 as they were then.
const BootAggregateName = "boot_aggregate"

// BootAggregatePCRs returns how many PCRs, from PCR 0, the kernel's boot
// aggregate of bank alg covers: 8 (PCRs 0-7) for SHA-1, 10 (PCRs 0-9: PCR 8
// and 9 hold the kernel command line and image in a typical allocation) for
// every other bank. It is 0 for a bank Replay does not support.
//
// This is the boot aggregate of Linux 5.8 and later (ima_calc_boot_aggregate
// in security/integrity/ima/ima_crypto.c). The kernel computes it in the PCR
// bank of the IMA hash algorithm if the TPM has that bank, else in the
// SHA-256 bank, else in the SHA-1 bank, and names that bank's algorithm in
// the entry's d-ng field. Older kernels always computed it in the SHA-1 bank
// over PCRs 0-7 and named it sha1, which this formula gives too.
func BootAggregatePCRs(alg crypto.Hash) int {
	switch {
	case !bankSupported(alg):
		return 0
	case alg == crypto.SHA1:
		return 8
	}
	return 10
}

// BootAggregate returns the boot aggregate the kernel logs for PCR values
// pcrs of bank alg: alg(pcrs[0] || pcrs[1] || ... ) over the first
// BootAggregatePCRs(alg) values, each of alg's size. It returns nil if alg is
// not a supported bank, or pcrs has too few values or one of the wrong size.
func BootAggregate(alg crypto.Hash, pcrs [][]byte) []byte {
	n := BootAggregatePCRs(alg)
	if n == 0 || len(pcrs) < n {
		return nil
	}
	h := alg.New()
	for _, p := range pcrs[:n] {
		if len(p) != alg.Size() {
			return nil
		}
		h.Write(p)
	}
	return h.Sum(nil)
}

// BootAggregateEntry returns the log's boot aggregate entry: the first entry
// of PCR 10, if it is not a violation and its name is BootAggregateName. It
// returns nil otherwise, notably for a log with no entry of PCR 10.
//
// Only the first entry counts. The kernel logs the boot aggregate before any
// other measurement, and nothing before the kernel's first extend can reach
// PCR 10 (it is not resettable), so on a kernel with IMA that entry cannot be
// a file's. A later entry of that name (a kexec'd kernel carrying the log
// over logs one more) is an ordinary entry to this function. On a kernel
// without IMA, root can extend PCR 10 with anything, a fabricated boot
// aggregate included: the entry shows IMA only as far as the booted kernel
// is known to run IMA.
func (l *Log) BootAggregateEntry() *Entry {
	if l == nil {
		return nil
	}
	for i := range l.Entries {
		e := &l.Entries[i]
		if e.PCR != MeasurePCR {
			continue
		}
		if e.Violation() || e.Path != BootAggregateName {
			return nil
		}
		return e
	}
	return nil
}
