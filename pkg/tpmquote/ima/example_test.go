package ima_test

import (
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/hwattest/hwattest/pkg/tpmquote/ima"
)

func ExampleVerify() {
	raw, err := os.ReadFile("testdata/ima-log-sha256.txt")
	if err != nil {
		panic(err)
	}
	// PCR 10 of the SHA-256 bank, from a quote already verified.
	pcr10, _ := hex.DecodeString("8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d")

	log, err := ima.Verify(raw, map[crypto.Hash][]byte{crypto.SHA256: pcr10})
	if err != nil {
		var re *ima.ReplayError
		if errors.As(err, &re) {
			fmt.Println("log does not match the quote in the", re.Bank, "bank")
		}
		panic(err)
	}
	fmt.Println(len(log.Entries), "entries")

	// Was a file with this SHA-256 measured?
	digest, _ := hex.DecodeString("96d7fae8adb7286a419a88f78c13d35fb782d63df654b7db56f154765698b754")
	for _, e := range log.FindFileHash(crypto.SHA256, digest) {
		fmt.Println("measured:", e.Path)
	}
	// Output:
	// 2 entries
	// measured: /data
}

func ExampleLog_Replay() {
	raw, err := os.ReadFile("testdata/ima-log-sha1.txt")
	if err != nil {
		panic(err)
	}
	log, err := ima.Parse(raw)
	if err != nil {
		panic(err)
	}
	for _, e := range log.Entries {
		fmt.Println(e.Path, "violation:", e.Violation())
	}
	pcr, err := log.Replay(crypto.SHA256)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(pcr) == sha256.Size)
	// Output:
	// boot_aggregate violation: true
	// /data violation: false
	// true
}

func ExampleWithPrefixMatch() {
	raw, err := os.ReadFile("testdata/ima-log-sha256.txt")
	if err != nil {
		panic(err)
	}
	// The attester read the log after quoting; the kernel had measured the
	// kexec command line in between.
	raw = append(raw, bufLogASCII[:strings.IndexByte(bufLogASCII, '\n')+1]...)
	pcr10, _ := hex.DecodeString("8dcd5e7eb63e363377ec19b0d358601ccc19f25a30486f35784c5288dbb91d9d")
	quote := map[crypto.Hash][]byte{crypto.SHA256: pcr10}

	if _, err := ima.Verify(raw, quote); err != nil {
		fmt.Println("exact match fails")
	}
	log, err := ima.Verify(raw, quote, ima.WithPrefixMatch())
	if err != nil {
		panic(err)
	}
	fmt.Println(len(log.Entries), "entries covered by the quote")
	// Output:
	// exact match fails
	// 2 entries covered by the quote
}
