package ima

import (
	"bytes"
	"crypto"
	_ "crypto/sha1"   // SHA-1 PCR bank and template hash
	_ "crypto/sha256" // SHA-256 PCR bank and template hash
	_ "crypto/sha512" // SHA-384 and SHA-512 PCR banks and template hashes
	"fmt"
	"slices"
	"strings"
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
// skipped. Entries of every template are extended alike, ima-buf included.
// Replay hashes the template data itself and does not trust the logged
// template hash, which in a SHA-1 log is only SHA-1.
func (l *Log) Replay(h crypto.Hash) ([]byte, error) {
	if l == nil {
		return nil, errorf("replay of a nil log")
	}
	if !bankSupported(h) {
		return nil, errorf("unsupported PCR bank %v", h)
	}
	pcr, _ := replay(l.Entries, h, nil)
	return pcr, nil
}

// replay extends bank h (supported) with entries and returns the final
// value. If want is not nil it also returns, in increasing order, the entry
// counts n at which the value equals want: n = 0 (the value is all zeros)
// and every n whose last entry extended PCR 10. A count ending with entries
// of other PCRs is not recorded, as a shorter one has the same value.
func replay(entries []Entry, h crypto.Hash, want []byte) (pcr []byte, matches []int) {
	size := h.Size()
	pcr = make([]byte, size)
	if want != nil && bytes.Equal(pcr, want) {
		matches = append(matches, 0)
	}
	ff := bytes.Repeat([]byte{0xff}, size)
	ext := make([]byte, 0, size)
	hh := h.New()
	for i := range entries {
		e := &entries[i]
		if e.PCR != MeasurePCR {
			continue
		}
		x := ff
		if !e.Violation() {
			hh.Reset()
			hh.Write(e.TemplateData)
			x = hh.Sum(ext[:0])
		}
		hh.Reset()
		hh.Write(pcr)
		hh.Write(x)
		pcr = hh.Sum(pcr[:0])
		if want != nil && bytes.Equal(pcr, want) {
			matches = append(matches, i+1)
		}
	}
	return pcr, matches
}

// ReplayError reports a log that does not replay to the quoted PCR 10. Verify
// returns it wrapped; use errors.As.
type ReplayError struct {
	// Bank is the PCR bank that does not match.
	Bank crypto.Hash
	// Got is the replayed value, Want the quoted one. Got is the replay of
	// the whole log, except under WithPrefixMatch when every bank matches
	// a prefix but not the same one: then Got is the replay of the
	// shortest such prefix, which Bank does not match.
	Got, Want []byte
}

func (e *ReplayError) Error() string {
	return fmt.Sprintf("PCR %d in the %v bank: log replays to %x, quote has %x", MeasurePCR, e.Bank, e.Got, e.Want)
}

// Verify parses raw (see Parse) and requires its replay to equal pcr10 in
// every bank pcr10 holds: the PCR 10 values of a quote whose signature, nonce
// and PCR digest the caller has already verified. An empty pcr10 is an error,
// as there is nothing to anchor the log to. The comparison is not
// constant-time: PCR values are public.
//
// By default the whole log must replay to pcr10. Banks are checked in
// increasing crypto.Hash order and the first mismatch is returned as a
// wrapped *ReplayError.
//
// With WithPrefixMatch, Verify accepts the shortest prefix of the log whose
// replay equals pcr10 in every bank, and returns a Log holding that prefix
// only: entries after it are not covered by the quote. A prefix ends with an
// entry of PCR 10, or is empty if pcr10 is all zeros in every bank. If a bank
// matches no prefix, the error names every such bank; if each bank matches a
// prefix but no prefix matches them all, the error gives the prefix each bank
// matches. Both wrap a *ReplayError, so errors.As tells a log that does not
// match the quote from one that does not parse.
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
	c, err := buildConfig(opts)
	if err != nil {
		return nil, err
	}
	log, err := Parse(raw, opts...)
	if err != nil {
		return nil, err
	}
	if c.prefix {
		return verifyPrefix(log, banks, pcr10)
	}
	for _, h := range banks {
		got, _ := replay(log.Entries, h, nil)
		if want := pcr10[h]; !bytes.Equal(got, want) {
			return nil, errorf("log does not match the quote: %w", &ReplayError{Bank: h, Got: got, Want: bytes.Clone(want)})
		}
	}
	return log, nil
}

// verifyPrefix cuts log to the shortest prefix that replays to pcr10 in every
// bank of banks (sorted, supported, values of the right size). Each bank is
// replayed once.
func verifyPrefix(log *Log, banks []crypto.Hash, pcr10 map[crypto.Hash][]byte) (*Log, error) {
	matches := make(map[crypto.Hash][]int, len(banks))
	var none []crypto.Hash
	var noneErr *ReplayError
	for _, h := range banks {
		got, m := replay(log.Entries, h, pcr10[h])
		if len(m) == 0 {
			if noneErr == nil {
				noneErr = &ReplayError{Bank: h, Got: got, Want: bytes.Clone(pcr10[h])}
			}
			none = append(none, h)
		}
		matches[h] = m
	}
	if len(none) > 0 {
		return nil, errorf("log does not match the quote: no prefix of the log replays to the quoted PCR %d in the %s: %w", MeasurePCR, bankList(none), noneErr)
	}
	// The smallest count that every bank matched. Match lists are sorted
	// and, short of a hash collision, one count long.
	for _, n := range matches[banks[0]] {
		all := true
		for _, h := range banks[1:] {
			if _, found := slices.BinarySearch(matches[h], n); !found {
				all = false
				break
			}
		}
		if all {
			log.Entries = log.Entries[:n:n]
			return log, nil
		}
	}
	// Every bank matched some prefix, never the same one. Report the
	// shortest prefix a bank matched and the first bank it fails.
	short := matches[banks[0]][0]
	for _, h := range banks[1:] {
		short = min(short, matches[h][0])
	}
	var re *ReplayError
	desc := make([]string, 0, len(banks))
	for _, h := range banks {
		desc = append(desc, fmt.Sprintf("%v the first %d", h, matches[h][0]))
		if _, found := slices.BinarySearch(matches[h], short); !found && re == nil {
			got, _ := replay(log.Entries[:short], h, nil)
			re = &ReplayError{Bank: h, Got: got, Want: bytes.Clone(pcr10[h])}
		}
	}
	return nil, errorf("log does not match the quote: the banks match different prefixes of the log (%s entries); of the first %d entries: %w",
		strings.Join(desc, ", "), short, re)
}

// bankList names banks in prose: "SHA-1 bank", "SHA-1 and SHA-256 banks",
// "SHA-1, SHA-256 and SHA-512 banks".
func bankList(banks []crypto.Hash) string {
	names := make([]string, len(banks))
	for i, h := range banks {
		names[i] = h.String()
	}
	if len(names) == 1 {
		return names[0] + " bank"
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1] + " banks"
}

// FindFileHash returns the entries of PCR 10 whose d-ng (or legacy d) digest
// is digest of algorithm alg, in log order. Violation entries and entries of
// other PCRs are never returned: the quote does not cover them. The result
// means something only for a Log returned by Verify.
//
// Entries are matched whatever their template name, ima-buf included: the
// name is not covered by the template hash, and ima-sig and ima-buf template
// data have the same layout, so the name cannot tell a file from a buffer.
// To ask about one file, use FindFile.
func (l *Log) FindFileHash(alg crypto.Hash, digest []byte) []Entry {
	return l.find(alg, digest, nil)
}

// FindFile is FindFileHash restricted to entries whose path (the n-ng or
// legacy n field, which the template hash covers) is path.
//
// The kernel logs the path of the file it measured as d_absolute_path gives
// it at that moment: from the root of the mount namespace the file's mount
// belongs to (for a file in a container, the path in the container), not
// shortened by a chroot. A file is measured once per inode until it changes,
// so a file reached through another hard link or bind mount, or renamed since,
// keeps the path of its first measurement; and when the kernel cannot build
// the path (longer than PATH_MAX, or on a mount detached from its namespace)
// it logs the bare file name.
func (l *Log) FindFile(alg crypto.Hash, digest []byte, path string) []Entry {
	return l.find(alg, digest, &path)
}

func (l *Log) find(alg crypto.Hash, digest []byte, path *string) []Entry {
	if l == nil || alg == 0 || len(digest) == 0 {
		return nil
	}
	var found []Entry
	for _, e := range l.Entries {
		if e.PCR == MeasurePCR && !e.Violation() && e.FileHashAlg == alg && bytes.Equal(e.FileHash, digest) &&
			(path == nil || e.Path == *path) {
			found = append(found, e)
		}
	}
	return found
}
