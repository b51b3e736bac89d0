package tpmtest

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// IMANG returns the ASCII ima-ng log line for a file with the given content,
// and its template data (what the kernel hashes into PCR 10).
func IMANG(path string, content []byte) (line string, templateData []byte) {
	return imaNGDigest(path, sha256.Sum256(content))
}

// IMABootAggregate returns the ASCII ima-ng log line of the first entry a
// kernel with IMA logs, the boot aggregate, and its template data. Its
// digest is that of a fresh TPM's PCRs 0-9 (all zeros) in the SHA-256 bank;
// a verifier checks it only against a quote that holds them.
func IMABootAggregate() (line string, templateData []byte) {
	return imaNGDigest("boot_aggregate", sha256.Sum256(make([]byte, 10*sha256.Size)))
}

func imaNGDigest(path string, d [sha256.Size]byte) (line string, templateData []byte) {
	dng := append([]byte("sha256:\x00"), d[:]...)
	nng := append([]byte(path), 0)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint32(len(dng)))
	b.Write(dng)
	binary.Write(&b, binary.LittleEndian, uint32(len(nng)))
	b.Write(nng)
	th := sha1.Sum(b.Bytes())
	return fmt.Sprintf("10 %x ima-ng sha256:%x %s\n", th, d, path), b.Bytes()
}

// ExtendIMA extends PCR 10 as the kernel does
// for one entry, in each of banks (default sha1 and sha256): with the bank's
// hash of the template data, or all ones for a violation.
func ExtendIMA(tb testing.TB, tpm transport.TPM, templateData []byte, violation bool, banks ...tpm2.TPMAlgID) {
	tb.Helper()
	if len(banks) == 0 {
		banks = []tpm2.TPMAlgID{tpm2.TPMAlgSHA1, tpm2.TPMAlgSHA256}
	}
	for _, bank := range banks {
		var d []byte
		switch bank {
		case tpm2.TPMAlgSHA1:
			s := sha1.Sum(templateData)
			d = s[:]
		case tpm2.TPMAlgSHA256:
			s := sha256.Sum256(templateData)
			d = s[:]
		default:
			tb.Fatalf("ExtendIMA: bank %v", bank)
		}
		if violation {
			d = bytes.Repeat([]byte{0xff}, len(d))
		}
		ExtendPCR(tb, tpm, bank, 10, d)
	}
}
