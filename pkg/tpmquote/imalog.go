package tpmquote

import (
	"bytes"
	"crypto"
	"errors"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// imaPCR is the PCR the kernel's IMA extends.
const imaPCR = 10

// replayIMALog parses the IMA log and replays it against the quoted PCR 10
// in every quoted bank. Entries appended after the quote (the attester reads
// the log after quoting) are not covered and are dropped.
func replayIMALog(raw []byte, quoted PCRValues) (*IMA, error) {
	pcr10 := map[crypto.Hash][]byte{}
	var banks []HashAlg
	for _, alg := range quoted.Banks() {
		if d, ok := quoted[alg][imaPCR]; ok {
			pcr10[alg.Hash()] = d
			banks = append(banks, alg)
		}
	}
	if len(pcr10) == 0 {
		return nil, refuse(ReasonIMALog, "IMA log sent but PCR %d is not quoted", imaPCR)
	}
	log, err := ima.Verify(raw, pcr10, ima.WithPrefixMatch())
	if err != nil {
		var rerr *ima.ReplayError
		if errors.As(err, &rerr) {
			return nil, &Error{Reason: ReasonIMALog, Err: errorf("%w", err)}
		}
		return nil, &Error{Reason: ReasonMalformed, Err: errorf("%w", err)}
	}
	out := &IMA{Banks: banks, Entries: make([]IMAEntry, 0, len(log.Entries)), Violations: []string{}}
	// The boot aggregate shows that the kernel's IMA extended PCR 10 from
	// its start. Without it, the covered log is not a kernel's: notably
	// when PCR 10 was never extended, the empty prefix replays to it and
	// any log "verifies" as zero entries.
	agg := log.BootAggregateEntry()
	if agg != nil {
		ba, err := checkBootAggregate(agg, quoted)
		if err != nil {
			return nil, err
		}
		out.BootAggregate = ba
	}
	for i := range log.Entries {
		e := &log.Entries[i]
		if e.PCR != imaPCR || e == agg {
			continue
		}
		if e.Violation() {
			out.Violations = append(out.Violations, e.Path)
			continue
		}
		// Every other entry is a measurement to check, whatever its
		// template name: the template hash does not cover the name, and
		// an ima-sig entry relabelled ima-buf replays alike, so the name
		// cannot set a buffer apart from a file.
		out.Entries = append(out.Entries, IMAEntry{
			Template: e.TemplateName,
			HashAlg:  hashName(e.FileHashAlg),
			Hash:     e.FileHash,
			Path:     e.Path,
			Signed:   len(e.Signature) > 0,
		})
	}
	return out, nil
}

// checkBootAggregate checks the boot aggregate against the quoted PCRs 0-7 or
// 0-9 of the bank it names, when the quote holds them all.
func checkBootAggregate(e *ima.Entry, quoted PCRValues) (*IMABootAggregate, error) {
	ba := &IMABootAggregate{HashAlg: hashName(e.FileHashAlg), Hash: e.FileHash}
	var bank map[int][]byte
	for alg, pcrs := range quoted {
		if alg.Hash() == e.FileHashAlg {
			bank = pcrs
		}
	}
	n := ima.BootAggregatePCRs(e.FileHashAlg)
	pcrs := make([][]byte, 0, n)
	for i := 0; i < n; i++ {
		d, ok := bank[i]
		if !ok {
			return ba, nil // not quoted: cannot be checked
		}
		pcrs = append(pcrs, d)
	}
	if n == 0 || allZero(e.FileHash) {
		return ba, nil
	}
	if want := ima.BootAggregate(e.FileHashAlg, pcrs); !bytes.Equal(want, e.FileHash) {
		return nil, refuse(ReasonIMALog, "IMA boot_aggregate %s:%x is not the digest of the quoted PCRs 0-%d (%x): they changed after the kernel read them, or the IMA log is not this boot's",
			ba.HashAlg, e.FileHash, n-1, want)
	}
	ba.PCRsVerified = true
	return ba, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func hashName(h crypto.Hash) string {
	for alg := range hashAlgNames {
		if alg.Hash() == h {
			return alg.String()
		}
	}
	return h.String()
}
