package ima_test

import (
	"crypto"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

// testdataLogs are the keylime ASCII logs under testdata/.
var testdataLogs = []string{
	"ima-log-sha1.txt",
	"ima-log-sha256.txt",
	"ima-log-sha384.txt",
	"ima-log-sha512.txt",
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// algNames are the kernel's hash_algo_name strings, written out here
// independently of the package under test.
var algNames = map[crypto.Hash]string{
	crypto.MD5:      "md5",
	crypto.SHA1:     "sha1",
	crypto.SHA224:   "sha224",
	crypto.SHA256:   "sha256",
	crypto.SHA384:   "sha384",
	crypto.SHA512:   "sha512",
	crypto.SHA3_256: "sha3-256",
	crypto.SHA3_384: "sha3-384",
	crypto.SHA3_512: "sha3-512",
}

func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

func field(b, data []byte) []byte { return append(le32(b, uint32(len(data))), data...) }

// dng is a d-ng field: "alg:\0" + digest.
func dng(alg string, digest []byte) []byte {
	return append([]byte(alg+":\x00"), digest...)
}

// ngData is ima-ng template data, plus the sig field when sig is not nil.
func ngData(alg string, digest []byte, path string, sig []byte) []byte {
	td := field(nil, dng(alg, digest))
	td = field(td, []byte(path+"\x00"))
	if sig != nil {
		td = field(td, sig)
	}
	return td
}

// legacyData is the hashed form of the "ima" template.
func legacyData(digest []byte, name string) []byte {
	td := make([]byte, 20+256)
	copy(td, digest)
	copy(td[20:], name)
	return td
}

func sum(h crypto.Hash, b []byte) []byte {
	hh := h.New()
	hh.Write(b)
	return hh.Sum(nil)
}

// newEntry builds an entry the way the kernel does, with the template hash
// of algorithm th (zero hash when violation is set).
func newEntry(th crypto.Hash, template string, alg crypto.Hash, digest []byte, path string, sig []byte, violation bool) ima.Entry {
	e := ima.Entry{PCR: 10, TemplateName: template, FileHashAlg: alg, FileHash: digest, Path: path}
	switch template {
	case ima.TemplateIMA:
		e.TemplateData = legacyData(digest, path)
	case ima.TemplateIMASig:
		if sig == nil {
			sig = []byte{}
		}
		e.TemplateData = ngData(algNames[alg], digest, path, sig)
		if len(sig) > 0 {
			e.Signature = sig
		}
	default:
		e.TemplateData = ngData(algNames[alg], digest, path, nil)
	}
	if violation {
		e.TemplateHash = make([]byte, th.Size())
	} else {
		e.TemplateHash = sum(th, e.TemplateData)
	}
	return e
}

// marshalBinary writes entries in the binary_runtime_measurements layout.
func marshalBinary(entries []ima.Entry) []byte {
	var b []byte
	for _, e := range entries {
		b = le32(b, e.PCR)
		b = append(b, e.TemplateHash...)
		b = field(b, []byte(e.TemplateName))
		if e.TemplateName == ima.TemplateIMA {
			// No template data length; digest, then the name without NUL.
			b = append(b, e.TemplateData[:20]...)
			b = field(b, []byte(e.Path))
			continue
		}
		b = field(b, e.TemplateData)
	}
	return b
}

// boundaries returns the offsets at which each entry of marshalBinary's
// output ends.
func boundaries(entries []ima.Entry) []int {
	var ends []int
	n := 0
	for _, e := range entries {
		n += len(marshalBinary([]ima.Entry{e}))
		ends = append(ends, n)
	}
	return ends
}

// asciiLine writes an entry as ascii_runtime_measurements does.
func asciiLine(e ima.Entry) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%2d %x %s ", e.PCR, e.TemplateHash, e.TemplateName)
	switch {
	case e.TemplateName == ima.TemplateIMA:
		sb.WriteString(hex.EncodeToString(e.FileHash))
	case e.FileHashAlg == 0:
		sb.WriteString(hex.EncodeToString(e.FileHash))
	default:
		sb.WriteString(algNames[e.FileHashAlg] + ":" + hex.EncodeToString(e.FileHash))
	}
	sb.WriteString(" " + e.Path)
	switch e.TemplateName {
	case ima.TemplateIMASig:
		// The kernel writes the separator even when the field is empty.
		sb.WriteString(" " + hex.EncodeToString(e.Signature))
	case ima.TemplateIMABuf:
		sb.WriteString(" " + hex.EncodeToString(e.Buffer))
	}
	sb.WriteString("\n")
	return sb.String()
}

func marshalASCII(entries []ima.Entry) []byte {
	var sb strings.Builder
	for _, e := range entries {
		sb.WriteString(asciiLine(e))
	}
	return []byte(sb.String())
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}
