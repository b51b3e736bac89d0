package ima

import (
	"crypto"
	"encoding/binary"
	"fmt"
)

// reader reads a binary log, never past its end.
type reader struct {
	b   []byte
	off int
}

func (r *reader) left() int { return len(r.b) - r.off }

func (r *reader) u32(what string) (uint32, error) {
	if r.left() < 4 {
		return 0, fmt.Errorf("truncated: %s needs 4 bytes, %d left", what, r.left())
	}
	v := binary.LittleEndian.Uint32(r.b[r.off:])
	r.off += 4
	return v, nil
}

// bytes returns the next n bytes, capped so appending to them cannot
// overwrite what follows.
func (r *reader) bytes(n uint64, what string) ([]byte, error) {
	if n > uint64(r.left()) {
		return nil, fmt.Errorf("truncated: %s needs %d bytes, %d left", what, n, r.left())
	}
	end := r.off + int(n)
	b := r.b[r.off:end:end]
	r.off = end
	return b, nil
}

// parseBinary parses binary_runtime_measurements. raw is owned by the caller
// of parseBinary and aliased by the entries.
func parseBinary(raw []byte, tmplHash crypto.Hash) ([]Entry, error) {
	r := &reader{b: raw}
	var entries []Entry
	for r.left() > 0 {
		if len(entries) == MaxEntries {
			return nil, errorf("log has more than MaxEntries (%d) entries", MaxEntries)
		}
		start := r.off
		e, err := readEntry(r, tmplHash)
		if err != nil {
			return nil, errorf("entry %d at offset %d: %w", len(entries)+1, start, err)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

func readEntry(r *reader, tmplHash crypto.Hash) (Entry, error) {
	pcr, err := r.u32("PCR index")
	if err != nil {
		return Entry{}, err
	}
	if pcr > MaxPCR {
		return Entry{}, fmt.Errorf("PCR index %d is more than MaxPCR (%d)", pcr, MaxPCR)
	}
	th, err := r.bytes(uint64(tmplHash.Size()), "template hash")
	if err != nil {
		return Entry{}, err
	}
	nameLen, err := r.u32("template name length")
	if err != nil {
		return Entry{}, err
	}
	if nameLen == 0 || nameLen > MaxTemplateNameLen {
		return Entry{}, fmt.Errorf("template name length %d is not in 1..MaxTemplateNameLen (%d)", nameLen, MaxTemplateNameLen)
	}
	name, err := r.bytes(uint64(nameLen), "template name")
	if err != nil {
		return Entry{}, err
	}
	var td []byte
	switch string(name) {
	case TemplateIMA:
		// The kernel writes the "ima" template without a template data
		// length: the 20-byte digest, then a u32 length and the name.
		if td, err = readLegacy(r); err != nil {
			return Entry{}, err
		}
	case TemplateIMANG, TemplateIMASig, TemplateIMABuf:
		n, err := r.u32("template data length")
		if err != nil {
			return Entry{}, err
		}
		if n > MaxTemplateDataLen {
			return Entry{}, fmt.Errorf("template data length %d is more than MaxTemplateDataLen (%d)", n, MaxTemplateDataLen)
		}
		if td, err = r.bytes(uint64(n), "template data"); err != nil {
			return Entry{}, err
		}
	default:
		return Entry{}, fmt.Errorf("unsupported template %q", name)
	}
	return decodeEntry(pcr, string(name), th, td, tmplHash)
}

// readLegacy reads the "ima" template data and returns its hashed form. The
// name is written without its NUL by current kernels; Linux 3.13 wrote it
// NUL-padded to 256 bytes, which is accepted too.
func readLegacy(r *reader) ([]byte, error) {
	digest, err := r.bytes(legacyDigestLen, "ima template digest")
	if err != nil {
		return nil, err
	}
	n, err := r.u32("ima template name length")
	if err != nil {
		return nil, err
	}
	if n > legacyNameField {
		return nil, fmt.Errorf("ima template name length %d is more than MaxLegacyNameLen (%d)", n, MaxLegacyNameLen)
	}
	name, err := r.bytes(uint64(n), "ima template name")
	if err != nil {
		return nil, err
	}
	if i := indexZero(name); i >= 0 {
		if !allZero(name[i:]) {
			return nil, fmt.Errorf("ima template name holds a NUL byte")
		}
		name = name[:i]
	}
	return legacyTemplateData(digest, name)
}

func indexZero(b []byte) int {
	for i, c := range b {
		if c == 0 {
			return i
		}
	}
	return -1
}
