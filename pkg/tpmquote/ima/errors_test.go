package ima_test

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// rawEntry writes one binary entry with the given template data, its SHA-1
// template hash computed unless th is given.
func rawEntry(pcr uint32, name string, td []byte, th []byte) []byte {
	if th == nil {
		th = sum(crypto.SHA1, td)
	}
	b := le32(nil, pcr)
	b = append(b, th...)
	b = field(b, []byte(name))
	return field(b, td)
}

func TestParseErrorsBinary(t *testing.T) {
	digest := bytes.Repeat([]byte{0xab}, 32)
	good := ngData("sha256", digest, "/bin/sh", nil)
	goodHash := hex.EncodeToString(sum(crypto.SHA1, good))
	zero := make([]byte, 20)
	longPath := strings.Repeat("a", ima.MaxPathLen+1)

	tests := []struct {
		name string
		raw  []byte
		want string
	}{
		{"empty", nil, "ima: empty log"},
		{"too large", make([]byte, ima.MaxLogSize+1), "ima: log has 67108865 bytes, more than MaxLogSize (67108864)"},
		{"short PCR", []byte{10, 0}, "ima: entry 1 at offset 0: truncated: PCR index needs 4 bytes, 2 left"},
		{"PCR too high", rawEntry(24, "ima-ng", good, nil), "ima: entry 1 at offset 0: PCR index 24 is more than MaxPCR (23)"},
		{"short template hash", append(le32(nil, 10), 1, 2, 3), "ima: entry 1 at offset 0: truncated: template hash needs 20 bytes, 3 left"},
		{"empty template name", append(append(le32(nil, 10), zero...), 0, 0, 0, 0), "ima: entry 1 at offset 0: template name length 0 is not in 1..MaxTemplateNameLen (255)"},
		{"template name too long", append(append(le32(nil, 10), zero...), le32(nil, 256)...), "ima: entry 1 at offset 0: template name length 256 is not in 1..MaxTemplateNameLen (255)"},
		{"template name truncated", append(append(le32(nil, 10), zero...), le32(nil, 6)...), "ima: entry 1 at offset 0: truncated: template name needs 6 bytes, 0 left"},
		{"unknown template", rawEntry(10, "ima-modsig", good, nil), `ima: entry 1 at offset 0: unsupported template "ima-modsig"`},
		{"template data too long", append(append(append(le32(nil, 10), zero...), field(nil, []byte("ima-ng"))...), le32(nil, ima.MaxTemplateDataLen+1)...),
			"ima: entry 1 at offset 0: template data length 65537 is more than MaxTemplateDataLen (65536)"},
		{"template data length 2^32-1", append(append(append(le32(nil, 10), zero...), field(nil, []byte("ima-ng"))...), 0xff, 0xff, 0xff, 0xff),
			"ima: entry 1 at offset 0: template data length 4294967295 is more than MaxTemplateDataLen (65536)"},
		{"template data truncated", rawEntry(10, "ima-ng", good, nil)[:60], "ima: entry 1 at offset 0: truncated: template data needs 56 bytes, 22 left"},
		{"second entry", append(rawEntry(10, "ima-ng", good, nil), rawEntry(24, "ima-ng", good, nil)...), "ima: entry 2 at offset 94: PCR index 24 is more than MaxPCR (23)"},
		{"template hash mismatch", rawEntry(10, "ima-ng", good, bytes.Repeat([]byte{1}, 20)),
			"ima: entry 1 at offset 0: template hash 0101010101010101010101010101010101010101 is not the SHA-1 of the template data (" + goodHash + ")"},
		{"d-ng length past data", rawEntry(10, "ima-ng", le32(nil, 9), nil), "ima: entry 1 at offset 0: d-ng field length 9 exceeds the 0 bytes left in the template data"},
		{"n-ng missing", rawEntry(10, "ima-ng", field(nil, dng("sha256", digest)), nil), "ima: entry 1 at offset 0: template data ends before the n-ng field length"},
		{"sig missing", rawEntry(10, "ima-sig", good, nil), "ima: entry 1 at offset 0: template data ends before the sig field length"},
		{"buf missing", rawEntry(10, "ima-buf", good, nil), "ima: entry 1 at offset 0: template data ends before the buf field length"},
		{"buf length past data", rawEntry(10, "ima-buf", append(bytes.Clone(good), le32(nil, 3)...), nil), "ima: entry 1 at offset 0: buf field length 3 exceeds the 0 bytes left in the template data"},
		{"buffer too long", rawEntry(10, "ima-buf", field(bytes.Clone(good), make([]byte, ima.MaxBufferLen+1)), nil),
			"ima: entry 1 at offset 0: buffer has 32769 bytes, more than MaxBufferLen (32768)"},
		{"trailing template data", rawEntry(10, "ima-ng", append(bytes.Clone(good), 0), nil), "ima: entry 1 at offset 0: template data has 1 bytes after its last field"},
		{"d-ng without colon", rawEntry(10, "ima-ng", field(field(nil, digest), []byte("/x\x00")), nil), "ima: entry 1 at offset 0: d-ng field has no ':' after the hash algorithm name"},
		{"d-ng without NUL", rawEntry(10, "ima-ng", field(field(nil, append([]byte("sha256:"), digest...)), []byte("/x\x00")), nil), "ima: entry 1 at offset 0: d-ng field has no NUL after ':'"},
		{"d-ng without algorithm", rawEntry(10, "ima-ng", field(field(nil, dng("", digest)), []byte("/x\x00")), nil), "ima: entry 1 at offset 0: d-ng field has no hash algorithm name"},
		{"unknown algorithm", rawEntry(10, "ima-ng", ngData("sm3", digest, "/x", nil), nil), `ima: entry 1 at offset 0: unsupported file hash algorithm "sm3"`},
		{"short digest", rawEntry(10, "ima-ng", ngData("sha256", digest[:31], "/x", nil), nil), "ima: entry 1 at offset 0: sha256 file digest has 31 bytes, want 32"},
		{"n-ng without NUL", rawEntry(10, "ima-ng", field(field(nil, dng("sha256", digest)), []byte("/x")), nil), "ima: entry 1 at offset 0: n-ng field is not NUL-terminated"},
		{"empty n-ng", rawEntry(10, "ima-ng", field(field(nil, dng("sha256", digest)), nil), nil), "ima: entry 1 at offset 0: n-ng field is not NUL-terminated"},
		{"NUL in path", rawEntry(10, "ima-ng", ngData("sha256", digest, "/x\x00y", nil), nil), "ima: entry 1 at offset 0: path holds a NUL byte"},
		{"path too long", rawEntry(10, "ima-ng", ngData("sha256", digest, longPath, nil), nil), "ima: entry 1 at offset 0: path has 4097 bytes, more than MaxPathLen (4096)"},
		{"signature too long", rawEntry(10, "ima-sig", ngData("sha256", digest, "/x", make([]byte, ima.MaxSignatureLen+1)), nil),
			"ima: entry 1 at offset 0: signature has 16385 bytes, more than MaxSignatureLen (16384)"},
		{"violation with digest", rawEntry(10, "ima-ng", good, zero), "ima: entry 1 at offset 0: violation entry has a non-zero file digest"},
		{"violation digest 21 bytes", rawEntry(10, "ima-ng", ngData("", make([]byte, 21), "/x", nil), zero), "ima: entry 1 at offset 0: violation digest has 21 bytes, want 20"},
		{"violation sha256 digest 21 bytes", rawEntry(10, "ima-ng", ngData("sha256", make([]byte, 21), "/x", nil), zero), "ima: entry 1 at offset 0: sha256 file digest has 21 bytes, want 32"},
		{"ima digest truncated", append(append(append(le32(nil, 10), zero...), field(nil, []byte("ima"))...), 1, 2), "ima: entry 1 at offset 0: truncated: ima template digest needs 20 bytes, 2 left"},
		{"ima name too long", append(append(append(append(le32(nil, 10), zero...), field(nil, []byte("ima"))...), zero...), le32(nil, 257)...),
			"ima: entry 1 at offset 0: ima template name length 257 is more than MaxLegacyNameLen (255)"},
		{"ima name 256 bytes", append(append(append(le32(nil, 10), zero...), field(nil, []byte("ima"))...), field(zero, bytes.Repeat([]byte("a"), 256))...),
			"ima: entry 1 at offset 0: ima template name has 256 bytes, more than MaxLegacyNameLen (255)"},
		{"ima name with NUL", append(append(append(le32(nil, 10), zero...), field(nil, []byte("ima"))...), field(zero, []byte("a\x00b"))...),
			"ima: entry 1 at offset 0: ima template name holds a NUL byte"},
		{"ima name truncated", append(append(append(le32(nil, 10), zero...), field(nil, []byte("ima"))...), field(zero, []byte("abc"))[:26]...),
			"ima: entry 1 at offset 0: truncated: ima template name needs 3 bytes, 2 left"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, err := ima.Parse(tt.raw, ima.WithFormat(ima.FormatBinary))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
			if log != nil {
				t.Error("log returned with an error")
			}
		})
	}
}

func TestParseErrorsASCII(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	good := ngData("sha256", mustHex(digest), "/bin/sh", nil)
	th := hex.EncodeToString(sum(crypto.SHA1, good))
	z40 := strings.Repeat("0", 40)

	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"no newline", "10 " + th + " ima-ng sha256:" + digest + " /bin/sh", "ima: line 1: truncated: no newline at the end"},
		{"empty line", "10 " + th + " ima-ng sha256:" + digest + " /bin/sh\n\n", "ima: line 2: has 1 fields, want at least 5"},
		{"too few fields", "10 " + th + " ima-ng sha256:" + digest + "\n", "ima: line 1: has 4 fields, want at least 5"},
		{"PCR not decimal", "1x " + th + " ima-ng sha256:" + digest + " /bin/sh\n", "ima: line 1: PCR index is not a decimal number"},
		{"PCR too high", "99 " + th + " ima-ng sha256:" + digest + " /bin/sh\n", "ima: line 1: PCR index 99 is more than MaxPCR (23)"},
		{"PCR overflow", "99999999999 " + th + " ima-ng sha256:" + digest + " /bin/sh\n", "ima: line 1: PCR index is not a decimal number"},
		{"short template hash", "10 " + th[:38] + " ima-ng sha256:" + digest + " /bin/sh\n", "ima: line 1: template hash has 38 hex digits, want 40 for SHA-1"},
		{"template hash not hex", "10 " + th[:38] + "zz ima-ng sha256:" + digest + " /bin/sh\n", "ima: line 1: template hash is not hex"},
		{"unknown template", "10 " + th + " ima-modsig sha256:" + digest + " /bin/sh\n", `ima: line 1: unsupported template "ima-modsig"`},
		{"template name too long", "10 " + th + " " + strings.Repeat("x", 256) + " sha256:" + digest + " /bin/sh\n",
			"ima: line 1: template name length 256 is not in 1..MaxTemplateNameLen (255)"},
		{"ima-ng extra field", "10 " + th + " ima-ng sha256:" + digest + " /bin/sh \n", "ima: line 1: ima-ng entry has 6 fields, want 5"},
		{"ima-sig extra field", "10 " + th + " ima-sig sha256:" + digest + " /bin/sh 00 00\n", "ima: line 1: ima-sig entry has 7 fields, want 6"},
		{"digest not hex", "10 " + th + " ima-ng sha256:" + digest[:62] + "zz /bin/sh\n", "ima: line 1: file digest is not hex"},
		{"digest too long", "10 " + th + " ima-ng sha256:" + strings.Repeat("ab", 65) + " /bin/sh\n",
			"ima: line 1: file digest has 130 hex digits, more than twice the largest digest size (64)"},
		{"algorithm too long", "10 " + th + " ima-ng " + strings.Repeat("s", 33) + ":" + digest + " /bin/sh\n", "ima: line 1: unsupported file hash algorithm"},
		{"unknown algorithm", "10 " + th + " ima-ng sm3:" + digest + " /bin/sh\n", `ima: line 1: unsupported file hash algorithm "sm3"`},
		{"no algorithm", "10 " + th + " ima-ng " + digest + " /bin/sh\n", "ima: line 1: d-ng field has no hash algorithm name"},
		{"path too long", "10 " + th + " ima-ng sha256:" + digest + " " + strings.Repeat("a", ima.MaxPathLen+1) + "\n",
			"ima: line 1: path has 4097 bytes, more than MaxPathLen (4096)"},
		{"NUL in path", "10 " + th + " ima-ng sha256:" + digest + " /bin\x00sh\n", "ima: line 1: path holds a NUL byte"},
		{"signature too long", "10 " + th + " ima-sig sha256:" + digest + " /bin/sh " + strings.Repeat("00", ima.MaxSignatureLen+1) + "\n",
			"ima: line 1: signature has 32770 hex digits, more than twice MaxSignatureLen (16384)"},
		{"signature not hex", "10 " + th + " ima-sig sha256:" + digest + " /bin/sh 0\n", "ima: line 1: signature is not hex"},
		{"ima-buf extra field", "10 " + th + " ima-buf sha256:" + digest + " kexec-cmdline 00 00\n", "ima: line 1: ima-buf entry has 7 fields, want 6"},
		{"buffer not hex", "10 " + th + " ima-buf sha256:" + digest + " kexec-cmdline 0\n", "ima: line 1: buffer is not hex"},
		{"buffer too long", "10 " + th + " ima-buf sha256:" + digest + " kexec-cmdline " + strings.Repeat("00", ima.MaxBufferLen+1) + "\n",
			"ima: line 1: buffer has 65538 hex digits, more than twice MaxBufferLen (32768)"},
		{"ima digest short", "10 " + th + " ima " + z40[:38] + " /bin/sh\n", "ima: line 1: ima template digest has 19 bytes, want 20"},
		{"ima name too long", "10 " + th + " ima " + z40 + " " + strings.Repeat("a", 256) + "\n",
			"ima: line 1: ima template name has 256 bytes, more than MaxLegacyNameLen (255)"},
		{"hash mismatch", "10 " + z40[:39] + "1 ima-ng sha256:" + digest + " /bin/sh\n",
			"ima: line 1: template hash 0000000000000000000000000000000000000001 is not the SHA-1 of the template data (" + th + ")"},
		{"violation with digest", "10 " + z40 + " ima-ng sha256:" + digest + " /bin/sh\n", "ima: line 1: violation entry has a non-zero file digest"},
		{"CRLF", "10 " + th + " ima-ng sha256:" + digest + " /bin/sh\r\n",
			"ima: line 1: template hash " + th + " is not the SHA-1 of the template data (" + hex.EncodeToString(sum(crypto.SHA1, ngData("sha256", mustHex(digest), "/bin/sh\r", nil))) + ")"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			log, err := ima.Parse([]byte(tt.raw), ima.WithFormat(ima.FormatASCII))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
			if log != nil {
				t.Error("log returned with an error")
			}
		})
	}
	// The good line parses, with a one-digit PCR written as "%2d".
	line := " 9 " + th + " ima-ng sha256:" + digest + " /bin/sh\n"
	log, err := ima.Parse([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if e := log.Entries[0]; e.PCR != 9 || e.Path != "/bin/sh" || !bytes.Equal(e.TemplateData, good) {
		t.Errorf("got %+v", e)
	}
}

func TestOptions(t *testing.T) {
	raw := readTestdata(t, "ima-log-sha1.txt")
	tests := []struct {
		name string
		opts []ima.Option
		want string
	}{
		{"conflicting formats", []ima.Option{ima.WithFormat(ima.FormatBinary), ima.WithFormat(ima.FormatASCII)}, "ima: conflicting formats binary and ascii"},
		{"unknown format", []ima.Option{ima.WithFormat(ima.Format(7))}, "ima: unknown format Format(7)"},
		{"conflicting template hashes", []ima.Option{ima.WithTemplateHash(crypto.SHA1), ima.WithTemplateHash(crypto.SHA256)}, "ima: conflicting template hashes SHA-1 and SHA-256"},
		{"unsupported template hash", []ima.Option{ima.WithTemplateHash(crypto.MD5)}, "ima: unsupported template hash MD5"},
		{"nil option", []ima.Option{nil}, "ima: nil option"},
		{"ASCII read as binary", []ima.Option{ima.WithFormat(ima.FormatBinary)}, "ima: entry 1 at offset 0: PCR index 807415857 is more than MaxPCR (23)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ima.Parse(raw, tt.opts...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
			_, err = ima.Verify(raw, map[crypto.Hash][]byte{crypto.SHA1: mustHex(testdataPCR10["ima-log-sha1.txt"][crypto.SHA1])}, tt.opts...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Verify: got  %v\nwant %s", err, tt.want)
			}
		})
	}
	// Repeating an option with the same value is fine.
	if _, err := ima.Parse(raw, ima.WithFormat(ima.FormatASCII), ima.WithFormat(ima.FormatASCII), ima.WithTemplateHash(crypto.SHA1)); err != nil {
		t.Error(err)
	}
	for f, want := range map[ima.Format]string{ima.FormatAuto: "auto", ima.FormatBinary: "binary", ima.FormatASCII: "ascii"} {
		if f.String() != want {
			t.Errorf("%d: %s", f, f)
		}
	}
}
