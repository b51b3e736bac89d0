package ima

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// maxASCIIFields is one more than the most fields a line may have (ima-sig
// and ima-buf: PCR, template hash, name, d-ng, n-ng, sig or buf), so that
// extra fields show.
const maxASCIIFields = 7

// maxDigestLen is the largest file digest, in bytes (SHA-512).
const maxDigestLen = 64

// parseASCII parses ascii_runtime_measurements: one entry per line, each line
// ending with '\n'.
func parseASCII(raw []byte, tmplHash crypto.Hash) ([]Entry, error) {
	var entries []Entry
	for len(raw) > 0 {
		line := len(entries) + 1
		if len(entries) == MaxEntries {
			return nil, errorf("log has more than MaxEntries (%d) entries", MaxEntries)
		}
		i := bytes.IndexByte(raw, '\n')
		if i < 0 {
			return nil, errorf("line %d: truncated: no newline at the end", line)
		}
		e, err := parseLine(string(raw[:i]), tmplHash)
		if err != nil {
			return nil, errorf("line %d: %w", line, err)
		}
		entries = append(entries, e)
		raw = raw[i+1:]
	}
	return entries, nil
}

// parseLine parses one line and rebuilds the template data the kernel hashed
// from its fields. The kernel prints the PCR index as "%2d", so a one-digit
// index has a leading space.
func parseLine(s string, tmplHash crypto.Hash) (Entry, error) {
	f := strings.SplitN(strings.TrimLeft(s, " "), " ", maxASCIIFields)
	if len(f) < 5 {
		return Entry{}, fmt.Errorf("has %d fields, want at least 5", len(f))
	}
	pcr, err := strconv.ParseUint(f[0], 10, 32)
	if err != nil {
		return Entry{}, fmt.Errorf("PCR index is not a decimal number")
	}
	if pcr > MaxPCR {
		return Entry{}, fmt.Errorf("PCR index %d is more than MaxPCR (%d)", pcr, MaxPCR)
	}
	if len(f[1]) != 2*tmplHash.Size() {
		return Entry{}, fmt.Errorf("template hash has %d hex digits, want %d for %v", len(f[1]), 2*tmplHash.Size(), tmplHash)
	}
	th, err := hex.DecodeString(f[1])
	if err != nil {
		return Entry{}, fmt.Errorf("template hash is not hex")
	}
	name := f[2]
	if len(name) == 0 || len(name) > MaxTemplateNameLen {
		return Entry{}, fmt.Errorf("template name length %d is not in 1..MaxTemplateNameLen (%d)", len(name), MaxTemplateNameLen)
	}
	want := 5
	switch name {
	case TemplateIMANG, TemplateIMA:
	case TemplateIMASig, TemplateIMABuf:
		// The kernel ends the line with a space when the signature or
		// buffer is empty; accept the line without it too.
		want = max(5, min(len(f), 6))
	default:
		return Entry{}, fmt.Errorf("unsupported template %q", name)
	}
	if len(f) != want {
		return Entry{}, fmt.Errorf("%s entry has %d fields, want %d", name, len(f), want)
	}
	var td []byte
	if name == TemplateIMA {
		digest, err := decodeHex(f[3], legacyDigestLen, "the digest size", "ima template digest")
		if err != nil {
			return Entry{}, err
		}
		if td, err = legacyTemplateData(digest, []byte(f[4])); err != nil {
			return Entry{}, err
		}
	} else {
		d, err := digestNG(f[3])
		if err != nil {
			return Entry{}, err
		}
		if len(f[4]) > MaxPathLen {
			return Entry{}, fmt.Errorf("path has %d bytes, more than MaxPathLen (%d)", len(f[4]), MaxPathLen)
		}
		td = appendField(nil, d)
		td = appendField(td, append([]byte(f[4]), 0))
		if name != TemplateIMANG {
			// sig or buf, written as hex; the kernel hashes the bytes.
			limit, limitName, what := MaxSignatureLen, "MaxSignatureLen", "signature"
			if name == TemplateIMABuf {
				limit, limitName, what = MaxBufferLen, "MaxBufferLen", "buffer"
			}
			var b []byte
			if len(f) == 6 {
				if b, err = decodeHex(f[5], limit, limitName, what); err != nil {
					return Entry{}, err
				}
			}
			td = appendField(td, b)
		}
	}
	if len(td) > MaxTemplateDataLen {
		return Entry{}, fmt.Errorf("template data length %d is more than MaxTemplateDataLen (%d)", len(td), MaxTemplateDataLen)
	}
	return decodeEntry(uint32(pcr), name, th, td, tmplHash)
}

// digestNG rebuilds a d-ng field from its ASCII form "alg:hex", or "hex" for
// a violation logged by an old kernel.
func digestNG(s string) ([]byte, error) {
	alg, h, found := strings.Cut(s, ":")
	if !found {
		alg, h = "", s
	}
	if len(alg) > maxAlgNameLen {
		return nil, fmt.Errorf("unsupported file hash algorithm")
	}
	digest, err := decodeHex(h, maxDigestLen, "the largest digest size", "file digest")
	if err != nil {
		return nil, err
	}
	d := make([]byte, 0, len(alg)+2+len(digest))
	d = append(d, alg...)
	d = append(d, ':', 0)
	return append(d, digest...), nil
}

// decodeHex decodes s, at most limit bytes long; limitName names the limit
// in errors.
func decodeHex(s string, limit int, limitName, what string) ([]byte, error) {
	if len(s) > 2*limit {
		return nil, fmt.Errorf("%s has %d hex digits, more than twice %s (%d)", what, len(s), limitName, limit)
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not hex", what)
	}
	return b, nil
}
