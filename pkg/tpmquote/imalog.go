package tpmquote

import (
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
	for _, e := range log.Entries {
		if e.PCR == imaPCR && e.Violation() {
			out.Violations = append(out.Violations, e.Path)
			continue
		}
		// Buffers (ima-buf: kexec command line, keys, SELinux state) are
		// not files.
		if e.PCR != imaPCR || e.TemplateName == ima.TemplateIMABuf {
			continue
		}
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

func hashName(h crypto.Hash) string {
	for alg := range hashAlgNames {
		if alg.Hash() == h {
			return alg.String()
		}
	}
	return h.String()
}
