package ima

import (
	"bytes"
	"crypto"
	_ "crypto/sha1"   // SHA-1 PCR bank and template hash
	_ "crypto/sha256" // SHA-256 PCR bank and template hash
	_ "crypto/sha512" // SHA-384 and SHA-512 PCR banks and template hashes
	"fmt"
	"slices"
)

// bankSupported reports whether h is a PCR bank Replay computes.
func bankSupported(h crypto.Hash) bool {
	switch h {
	case crypto.SHA1, crypto.SHA256, crypto.SHA384, crypto.SHA512:
		return true
	}
	return false
}

// Replay returns the value PCR 10 has in bank h (SHA-1, SHA-256, SHA-384 or
// SHA-512) after the kernel extended it with the log: starting from zeros,
// PCR = h(PCR || h(TemplateData)) for each entry of PCR 10, and
// PCR = h(PCR || 0xFF..FF) for each violation. Entries of other PCRs are
// skipped. Replay hashes the template data itself and does not trust the
// logged template hash, which in a SHA-1 log is only SHA-1.
func (l *Log) Replay(h crypto.Hash) ([]byte, error) {
	if l == nil {
		return nil, errorf("replay of a nil log")
	}
	if !bankSupported(h) {
		return nil, errorf("unsupported PCR bank %v", h)
	}
	pcr := make([]byte, h.Size())
	ff := bytes.Repeat([]byte{0xff}, h.Size())
	hh := h.New()
	for i := range l.Entries {
		e := &l.Entries[i]
		if e.PCR != MeasurePCR {
			continue
		}
		ext := ff
		if !e.Violation() {
			hh.Reset()
			hh.Write(e.TemplateData)
			ext = hh.Sum(nil)
		}
		hh.Reset()
		hh.Write(pcr)
		hh.Write(ext)
		pcr = hh.Sum(nil)
	}
	return pcr, nil
}

// ReplayError reports a log that does not replay to the quoted PCR 10. Verify
// returns it wrapped; use errors.As.
type ReplayError struct {
	// Bank is the PCR bank that does not match.
	Bank crypto.Hash
	// Got is the replayed value, Want the quoted one.
	Got, Want []byte
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("PCR %d in the %v bank: log replays to %x, quote has %x", MeasurePCR, e.Bank, e.Got, e.Want)
}

// Verify parses raw (see Parse) and requires its replay to equal pcr10 in
// every bank pcr10 holds: the PCR 10 values of a quote whose signature, nonce
// and PCR digest the caller has already verified. An empty pcr10 is an error,
// as there is nothing to anchor the log to. Banks are checked in increasing
// crypto.Hash order and the first mismatch is returned as a wrapped
// *ReplayError. The comparison is not constant-time: PCR values are public.
//
// On success every entry of PCR 10 in the returned Log is covered by the
// quote, except the fields of violation entries. Entries of other PCRs are
// not checked against anything.
func Verify(raw []byte, pcr10 map[crypto.Hash][]byte, opts ...Option) (*Log, error) {
	if len(pcr10) == 0 {
		return nil, errorf("no PCR %d value to verify the log against", MeasurePCR)
	}
	banks := make([]crypto.Hash, 0, len(pcr10))
	for h, want := range pcr10 {
		if !bankSupported(h) {
			return nil, errorf("unsupported PCR bank %v", h)
		}
		if len(want) != h.Size() {
			return nil, errorf("PCR %d value for the %v bank has %d bytes, want %d", MeasurePCR, h, len(want), h.Size())
		}
		banks = append(banks, h)
	}
	slices.Sort(banks)
	log, err := Parse(raw, opts...)
	if err != nil {
		return nil, err
	}
	for _, h := range banks {
		got, err := log.Replay(h)
		if err != nil {
			return nil, err
		}
		if want := pcr10[h]; !bytes.Equal(got, want) {
			return nil, errorf("log does not match the quote: %w", &ReplayError{Bank: h, Got: got, Want: bytes.Clone(want)})
		}
	}
	return log, nil
}

// FindFileHash returns the entries of PCR 10 that measured a file with digest
// digest of algorithm alg, in log order. Violation entries and entries of
// other PCRs are never returned: the quote does not cover them. The result
// means something only for a Log returned by Verify.
func (l *Log) FindFileHash(alg crypto.Hash, digest []byte) []Entry {
	if l == nil || alg == 0 || len(digest) == 0 {
		return nil
	}
	var found []Entry
	for _, e := range l.Entries {
		if e.PCR == MeasurePCR && !e.Violation() && e.FileHashAlg == alg && bytes.Equal(e.FileHash, digest) {
			found = append(found, e)
		}
	}
	return found
}
