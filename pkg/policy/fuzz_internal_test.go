package policy

import (
	"encoding/hex"
	"os"
	"strings"
	"testing"
)

// FuzzIMAAllowlist feeds arbitrary file contents to the allowlist parser.
// It never panics; what it accepts are lowercase hex digests of an IMA
// digest size; an error names the file and the line and quotes at most 80
// bytes of it. (An error leaves the lines read before it in the set; Compile
// then discards the whole policy.)
//
// The seed corpus is the shipped level-4 allowlist and
// testdata/fuzz/FuzzIMAAllowlist.
func FuzzIMAAllowlist(f *testing.F) {
	b, err := os.ReadFile("../../examples/policies/level4-allowlist.sha256sum")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("# comment\n" + strings.Repeat("AB", 32) + "  /usr/bin/x\n\n" + strings.Repeat("cd", 20) + "\n"))
	f.Add([]byte(strings.Repeat("0", 65) + "\n"))
	f.Add([]byte("zz  /bin/sh\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		set := map[string]bool{}
		err := parseIMAAllowlist("list", b, set)
		if err != nil {
			msg := err.Error()
			if !strings.HasPrefix(msg, "list") {
				t.Errorf("error does not name the file: %v", err)
			}
			// 80 bytes quoted with %q are at most 320 characters (\xNN each).
			if len(msg) > 400 {
				t.Errorf("error of %d bytes quotes too much of the file", len(msg))
			}
			return
		}
		for d := range set {
			if _, err := hex.DecodeString(d); err != nil || d != strings.ToLower(d) || !isDigest(d) {
				t.Errorf("accepted %q", d)
			}
		}
	})
}
