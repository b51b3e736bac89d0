package ima

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"fmt"
)

// fileHashAlg maps a kernel hash_algo_name to a crypto.Hash, for the
// algorithms Go names.
func fileHashAlg(name string) (crypto.Hash, bool) {
	switch name {
	case "md5":
		return crypto.MD5, true
	case "sha1":
		return crypto.SHA1, true
	case "sha224":
		return crypto.SHA224, true
	case "sha256":
		return crypto.SHA256, true
	case "sha384":
		return crypto.SHA384, true
	case "sha512":
		return crypto.SHA512, true
	case "sha3-256":
		return crypto.SHA3_256, true
	case "sha3-384":
		return crypto.SHA3_384, true
	case "sha3-512":
		return crypto.SHA3_512, true
	}
	return 0, false
}

// decodeEntry decodes the template data td of template name and checks the
// template hash th (of algorithm tmplHash) against it. Errors carry no
// prefix or location; the caller adds both.
func decodeEntry(pcr uint32, name string, th, td []byte, tmplHash crypto.Hash) (Entry, error) {
	e := Entry{PCR: pcr, TemplateName: name, TemplateHash: th, TemplateData: td}
	violation := e.Violation()
	switch name {
	case TemplateIMANG, TemplateIMASig, TemplateIMABuf:
		names := []string{"d-ng", "n-ng"}
		switch name {
		case TemplateIMASig:
			names = append(names, "sig")
		case TemplateIMABuf:
			names = append(names, "buf")
		}
		fields, err := splitFields(td, names)
		if err != nil {
			return Entry{}, err
		}
		e.FileHashAlg, e.FileHash, err = parseDigestNG(fields[0], violation)
		if err != nil {
			return Entry{}, err
		}
		if e.Path, err = parseNameNG(fields[1]); err != nil {
			return Entry{}, err
		}
		if name == TemplateIMASig {
			if len(fields[2]) > MaxSignatureLen {
				return Entry{}, fmt.Errorf("signature has %d bytes, more than MaxSignatureLen (%d)", len(fields[2]), MaxSignatureLen)
			}
			if len(fields[2]) > 0 {
				e.Signature = fields[2]
			}
		}
		if name == TemplateIMABuf {
			if len(fields[2]) > MaxBufferLen {
				return Entry{}, fmt.Errorf("buffer has %d bytes, more than MaxBufferLen (%d)", len(fields[2]), MaxBufferLen)
			}
			if len(fields[2]) > 0 {
				e.Buffer = fields[2]
			}
		}
	case TemplateIMA:
		digest, path, err := decodeLegacy(td)
		if err != nil {
			return Entry{}, err
		}
		e.FileHashAlg, e.FileHash, e.Path = crypto.SHA1, digest, path
	default:
		return Entry{}, fmt.Errorf("unsupported template %q", name)
	}
	if violation {
		if !allZero(e.FileHash) {
			return Entry{}, fmt.Errorf("violation entry has a non-zero file digest")
		}
		return e, nil
	}
	h := tmplHash.New()
	h.Write(td)
	if sum := h.Sum(nil); !bytes.Equal(sum, th) {
		return Entry{}, fmt.Errorf("template hash %x is not the %v of the template data (%x)", th, tmplHash, sum)
	}
	return e, nil
}

// splitFields splits ima-ng style template data into len(names) fields, each
// a u32 LE length and its bytes, and requires nothing after the last one.
func splitFields(td []byte, names []string) ([][]byte, error) {
	fields := make([][]byte, 0, len(names))
	rest := td
	for _, name := range names {
		if len(rest) < 4 {
			return nil, fmt.Errorf("template data ends before the %s field length", name)
		}
		n := binary.LittleEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(n) > uint64(len(rest)) {
			return nil, fmt.Errorf("%s field length %d exceeds the %d bytes left in the template data", name, n, len(rest))
		}
		fields = append(fields, rest[:n:n])
		rest = rest[n:]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("template data has %d bytes after its last field", len(rest))
	}
	return fields, nil
}

// parseDigestNG parses a d-ng field: algorithm name, ':', NUL, digest. A
// violation's digest is zero and may be 20 bytes whatever the algorithm (the
// kernel pads by IMA_DIGEST_SIZE); old kernels wrote no algorithm name for it.
func parseDigestNG(f []byte, violation bool) (crypto.Hash, []byte, error) {
	i := bytes.IndexByte(f[:min(len(f), maxAlgNameLen+1)], ':')
	if i < 0 {
		return 0, nil, fmt.Errorf("d-ng field has no ':' after the hash algorithm name")
	}
	if i+1 >= len(f) || f[i+1] != 0 {
		return 0, nil, fmt.Errorf("d-ng field has no NUL after ':'")
	}
	name, digest := string(f[:i]), f[i+2:]
	if name == "" {
		if !violation {
			return 0, nil, fmt.Errorf("d-ng field has no hash algorithm name")
		}
		if len(digest) != violationDigestLen {
			return 0, nil, fmt.Errorf("violation digest has %d bytes, want %d", len(digest), violationDigestLen)
		}
		return 0, digest, nil
	}
	alg, ok := fileHashAlg(name)
	if !ok {
		return 0, nil, fmt.Errorf("unsupported file hash algorithm %q", name)
	}
	if len(digest) != alg.Size() && !(violation && len(digest) == violationDigestLen) {
		return 0, nil, fmt.Errorf("%s file digest has %d bytes, want %d", name, len(digest), alg.Size())
	}
	return alg, digest, nil
}

// parseNameNG parses an n-ng field: the path and a NUL.
func parseNameNG(f []byte) (string, error) {
	if len(f) == 0 || f[len(f)-1] != 0 {
		return "", fmt.Errorf("n-ng field is not NUL-terminated")
	}
	p := f[:len(f)-1]
	if len(p) > MaxPathLen {
		return "", fmt.Errorf("path has %d bytes, more than MaxPathLen (%d)", len(p), MaxPathLen)
	}
	if bytes.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path holds a NUL byte")
	}
	return string(p), nil
}

// decodeLegacy splits the hashed form of the "ima" template: a 20-byte
// digest and the name NUL-padded to 256 bytes.
func decodeLegacy(td []byte) ([]byte, string, error) {
	if len(td) != legacyDigestLen+legacyNameField {
		return nil, "", fmt.Errorf("ima template data has %d bytes, want %d", len(td), legacyDigestLen+legacyNameField)
	}
	digest, nf := td[:legacyDigestLen:legacyDigestLen], td[legacyDigestLen:]
	n := bytes.IndexByte(nf, 0)
	if n < 0 || !allZero(nf[n:]) {
		return nil, "", fmt.Errorf("ima template name is not NUL-padded")
	}
	return digest, string(nf[:n]), nil
}

// legacyTemplateData builds the hashed form of the "ima" template from its
// digest and name.
func legacyTemplateData(digest, name []byte) ([]byte, error) {
	if len(digest) != legacyDigestLen {
		return nil, fmt.Errorf("ima template digest has %d bytes, want %d", len(digest), legacyDigestLen)
	}
	if len(name) > MaxLegacyNameLen {
		return nil, fmt.Errorf("ima template name has %d bytes, more than MaxLegacyNameLen (%d)", len(name), MaxLegacyNameLen)
	}
	if bytes.IndexByte(name, 0) >= 0 {
		return nil, fmt.Errorf("ima template name holds a NUL byte")
	}
	td := make([]byte, legacyDigestLen+legacyNameField)
	copy(td, digest)
	copy(td[legacyDigestLen:], name)
	return td, nil
}

// appendField appends a u32 LE length and b.
func appendField(dst, b []byte) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(b)))
	return append(dst, b...)
}
